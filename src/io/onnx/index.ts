// ONNX export written in TypeScript: protobuf wire writer, graph builder, layer emitters, the
// lipreading network's graphs (full / frontend / backend) and file metadata reading.
export { ProtoWriter } from './protobuf_writer.js';
export * from './onnx_proto.js';
export {
  GraphBuilder,
  attr,
  buildModel,
  serializeModel,
  OPSET,
  IR_VERSION,
  type AttrInput,
  type ModelOptions,
  type TensorData,
} from './graph_builder.js';
export * from './layers.js';
export { adjustChannels, type NetworkConfig, type StageRow } from './network_config.js';
export {
  emitNetwork,
  mapWeightSource,
  MissingWeightError,
  type GraphKind,
  type WeightSource,
} from './network_graph.js';
export {
  loadCheckpoint,
  checkpointFrom,
  CheckpointError,
  type LoadedCheckpoint,
} from './checkpoint_weights.js';
export { DEFAULT_PREPROCESSING, type Preprocessing } from './preprocessing.js';
export { exportOnnx, exportMetadata, EFLIP_VERSION } from './export_model.js';
export {
  exportModule,
  checkpointFromModule,
  checkModuleTree,
  MODULE_EMITTERS,
  UnsupportedModuleError,
} from './export_module.js';
export { readOnnxSummary, OnnxFileError, type OnnxSummary } from './onnx_reader.js';
export { pinDimensions } from './static_dims.js';
