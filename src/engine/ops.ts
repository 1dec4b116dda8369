// ATen operator table: name -> dispatcher op id, resolved once at load. Ops missing from the
// linked libtorch version resolve to -1 and throw a clear error when used.
import { native } from './native.js';

const NAMES = {
  // elementwise arithmetic
  add: 'aten::add.Tensor', addS: 'aten::add.Scalar', sub: 'aten::sub.Tensor', subS: 'aten::sub.Scalar', rsubS: 'aten::rsub.Scalar',
  mul: 'aten::mul.Tensor', mulS: 'aten::mul.Scalar', div: 'aten::div.Tensor', divS: 'aten::div.Scalar', divMode: 'aten::div.Tensor_mode', divSMode: 'aten::div.Scalar_mode',
  remainder: 'aten::remainder.Tensor', remainderS: 'aten::remainder.Scalar', fmod: 'aten::fmod.Tensor', fmodS: 'aten::fmod.Scalar',
  pow: 'aten::pow.Tensor_Tensor', powS: 'aten::pow.Tensor_Scalar', rpowS: 'aten::pow.Scalar',
  neg: 'aten::neg', abs: 'aten::abs', sqrt: 'aten::sqrt', rsqrt: 'aten::rsqrt', exp: 'aten::exp', log: 'aten::log', log1p: 'aten::log1p',
  log2: 'aten::log2', expm1: 'aten::expm1', sin: 'aten::sin', cos: 'aten::cos', tanh: 'aten::tanh', sigmoid: 'aten::sigmoid', sign: 'aten::sign',
  floor: 'aten::floor', ceil: 'aten::ceil', round: 'aten::round', trunc: 'aten::trunc', reciprocal: 'aten::reciprocal', square: 'aten::square', erf: 'aten::erf',
  clamp: 'aten::clamp', clampT: 'aten::clamp.Tensor', maximum: 'aten::maximum', minimum: 'aten::minimum', lerp: 'aten::lerp.Scalar', lerpT: 'aten::lerp.Tensor',
  // comparisons / logic / selection
  eq: 'aten::eq.Tensor', eqS: 'aten::eq.Scalar', ne: 'aten::ne.Tensor', neS: 'aten::ne.Scalar', lt: 'aten::lt.Tensor', ltS: 'aten::lt.Scalar',
  le: 'aten::le.Tensor', leS: 'aten::le.Scalar', gt: 'aten::gt.Tensor', gtS: 'aten::gt.Scalar', ge: 'aten::ge.Tensor', geS: 'aten::ge.Scalar',
  logicalAnd: 'aten::logical_and', logicalOr: 'aten::logical_or', logicalNot: 'aten::logical_not', logicalXor: 'aten::logical_xor',
  where: 'aten::where.self', whereSO: 'aten::where.ScalarOther', whereSS: 'aten::where.ScalarSelf', whereScalar: 'aten::where.Scalar',
  maskedFill: 'aten::masked_fill.Scalar', maskedFillT: 'aten::masked_fill.Tensor', isnan: 'aten::isnan', isfinite: 'aten::isfinite',
  allclose: 'aten::allclose', equal: 'aten::equal',
  // reductions
  sumAll: 'aten::sum', sumDim: 'aten::sum.dim_IntList', meanAll: 'aten::mean', meanDim: 'aten::mean.dim', prod: 'aten::prod', prodDim: 'aten::prod.dim_int',
  maxAll: 'aten::max', maxDim: 'aten::max.dim', minAll: 'aten::min', minDim: 'aten::min.dim', amax: 'aten::amax', amin: 'aten::amin',
  argmax: 'aten::argmax', argmin: 'aten::argmin', topk: 'aten::topk', sort: 'aten::sort', argsort: 'aten::argsort',
  varDim: 'aten::var.dim', stdDim: 'aten::std.dim', logsumexp: 'aten::logsumexp', cumsum: 'aten::cumsum', all: 'aten::all', allDim: 'aten::all.dim',
  any: 'aten::any', anyDim: 'aten::any.dim', vectorNorm: 'aten::linalg_vector_norm', countNonzero: 'aten::count_nonzero',
  // shape / indexing
  reshape: 'aten::reshape', view: 'aten::view', permute: 'aten::permute', transpose: 'aten::transpose.int', t: 'aten::t',
  contiguous: 'aten::contiguous', cat: 'aten::cat', stack: 'aten::stack', narrow: 'aten::narrow', slice: 'aten::slice.Tensor',
  select: 'aten::select.int', indexSelect: 'aten::index_select', gather: 'aten::gather', scatter: 'aten::scatter.src', scatterValue: 'aten::scatter.value',
  scatterAdd: 'aten::scatter_add', index: 'aten::index.Tensor', indexPut: 'aten::index_put', maskedSelect: 'aten::masked_select', nonzero: 'aten::nonzero',
  flip: 'aten::flip', roll: 'aten::roll', constantPad: 'aten::constant_pad_nd',
  reflectionPad1d: 'aten::reflection_pad1d', reflectionPad2d: 'aten::reflection_pad2d', reflectionPad3d: 'aten::reflection_pad3d',
  replicationPad1d: 'aten::replication_pad1d', replicationPad2d: 'aten::replication_pad2d', replicationPad3d: 'aten::replication_pad3d',
  expand: 'aten::expand', squeeze: 'aten::squeeze', squeezeDim: 'aten::squeeze.dim', unsqueeze: 'aten::unsqueeze', flatten: 'aten::flatten.using_ints',
  unflatten: 'aten::unflatten.int', unbind: 'aten::unbind.int', split: 'aten::split.Tensor', splitSizes: 'aten::split_with_sizes', chunk: 'aten::chunk',
  repeat: 'aten::repeat', repeatInterleave: 'aten::repeat_interleave.self_int', tril: 'aten::tril', triu: 'aten::triu',
  clone: 'aten::clone', detach: 'aten::detach', toDtype: 'aten::to.dtype', toDevice: 'aten::to.device', pinMemory: 'aten::pin_memory', isPinned: 'aten::is_pinned', oneHot: 'aten::one_hot', embedding: 'aten::embedding',
  // linear algebra
  matmul: 'aten::matmul', bmm: 'aten::bmm', mm: 'aten::mm', linear: 'aten::linear', baddbmm: 'aten::baddbmm', outer: 'aten::outer', dot: 'aten::dot', einsum: 'aten::einsum',
  // nn
  conv1d: 'aten::conv1d', conv2d: 'aten::conv2d', conv3d: 'aten::conv3d', conv1dPad: 'aten::conv1d.padding', conv2dPad: 'aten::conv2d.padding', conv3dPad: 'aten::conv3d.padding',
  convTranspose1d: 'aten::conv_transpose1d', convTranspose2d: 'aten::conv_transpose2d.input', convTranspose3d: 'aten::conv_transpose3d.input',
  batchNorm: 'aten::batch_norm', layerNorm: 'aten::layer_norm', groupNorm: 'aten::group_norm', dropout: 'aten::dropout', featureDropout: 'aten::feature_dropout',
  relu: 'aten::relu', silu: 'aten::silu', gelu: 'aten::gelu', prelu: 'aten::prelu', glu: 'aten::glu', leakyRelu: 'aten::leaky_relu', elu: 'aten::elu',
  hardswish: 'aten::hardswish', hardsigmoid: 'aten::hardsigmoid', softplus: 'aten::softplus', mish: 'aten::mish',
  softmax: 'aten::softmax.int', logSoftmax: 'aten::log_softmax.int',
  adaptiveAvgPool1d: 'aten::adaptive_avg_pool1d', adaptiveAvgPool2d: 'aten::adaptive_avg_pool2d', adaptiveAvgPool3d: 'aten::adaptive_avg_pool3d',
  adaptiveMaxPool2d: 'aten::adaptive_max_pool2d',
  maxPool1d: 'aten::max_pool1d', maxPool2d: 'aten::max_pool2d', maxPool3d: 'aten::max_pool3d',
  avgPool1d: 'aten::avg_pool1d', avgPool2d: 'aten::avg_pool2d', avgPool3d: 'aten::avg_pool3d',
  nllLoss: 'aten::nll_loss', crossEntropy: 'aten::cross_entropy_loss', mseLoss: 'aten::mse_loss', l1Loss: 'aten::l1_loss', smoothL1Loss: 'aten::smooth_l1_loss',
  bceWithLogits: 'aten::binary_cross_entropy_with_logits', bce: 'aten::binary_cross_entropy', klDiv: 'aten::kl_div',
  interpolateBilinear: 'aten::upsample_bilinear2d', interpolateNearest: 'aten::upsample_nearest2d', gridSample: 'aten::grid_sampler', affineGrid: 'aten::affine_grid_generator',
  sdpa: 'aten::scaled_dot_product_attention',
  // creation / random
  zeros: 'aten::zeros', ones: 'aten::ones', full: 'aten::full', empty: 'aten::empty.memory_format', arange: 'aten::arange.start_step', linspace: 'aten::linspace',
  eye: 'aten::eye', rand: 'aten::rand', randn: 'aten::randn', randint: 'aten::randint.low', randperm: 'aten::randperm', scalarTensor: 'aten::scalar_tensor',
  zerosLike: 'aten::zeros_like', onesLike: 'aten::ones_like', fullLike: 'aten::full_like', randLike: 'aten::rand_like', randnLike: 'aten::randn_like', emptyLike: 'aten::empty_like',
  bernoulli: 'aten::bernoulli', bernoulliP: 'aten::bernoulli.p', multinomial: 'aten::multinomial',
  // in-place (optimizers, init)
  add_: 'aten::add_.Tensor', addS_: 'aten::add_.Scalar', sub_: 'aten::sub_.Tensor', subS_: 'aten::sub_.Scalar', mul_: 'aten::mul_.Tensor', mulS_: 'aten::mul_.Scalar',
  div_: 'aten::div_.Tensor', divS_: 'aten::div_.Scalar', addcmul_: 'aten::addcmul_', addcdiv_: 'aten::addcdiv_', copy_: 'aten::copy_', zero_: 'aten::zero_',
  fill_: 'aten::fill_.Scalar', fillT_: 'aten::fill_.Tensor', lerp_: 'aten::lerp_.Scalar', lerpT_: 'aten::lerp_.Tensor', sqrt_: 'aten::sqrt_', clamp_: 'aten::clamp_',
  maskedFill_: 'aten::masked_fill_.Scalar', uniform_: 'aten::uniform_', normal_: 'aten::normal_', bernoulli_: 'aten::bernoulli_.float', relu_: 'aten::relu_',
  neg_: 'aten::neg_', exp_: 'aten::exp_', pow_: 'aten::pow_.Scalar', clampMin_: 'aten::clamp_min_', indexPut_: 'aten::index_put_',
  foreachMulS_: 'aten::_foreach_mul_.Scalar', foreachAddList_: 'aten::_foreach_add_.List', foreachAddcmulS_: 'aten::_foreach_addcmul_.Scalar',
  foreachAddcdivS_: 'aten::_foreach_addcdiv_.Scalar', foreachZero_: 'aten::_foreach_zero_', foreachSqrt: 'aten::_foreach_sqrt', foreachLerpS_: 'aten::_foreach_lerp_.Scalar',
  foreachNorm: 'aten::_foreach_norm.Scalar',
} as const;

export type OpName = keyof typeof NAMES;

/** op name -> dispatcher id (-1 when the linked libtorch lacks it). */
export const OP = {} as Record<OpName, number>;
for (const [k, full] of Object.entries(NAMES)) {
  const [name, overload = ''] = full.split('.');
  OP[k as OpName] = native.opId(name, overload) ?? -1;
}

/** True when the linked libtorch provides the op. */
export function hasOp(name: OpName): boolean {
  return OP[name] >= 0;
}

/** The full ATen name of an op key (for messages). */
export function opFullName(name: OpName): string {
  return NAMES[name];
}
