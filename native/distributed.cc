// Data-parallel primitives over libtorch's own c10d: the TCPStore (rendezvous), the Gloo
// (CPU) and NCCL (CUDA builds) process groups, in-place collectives with timeouts, a
// bucketed gradient all-reduce driven by autograd hooks (overlaps with backward), and a
// differentiable all-reduce (SyncBatchNorm's statistics). Checks and messages live in
// src/engine/distributed.ts; this file takes validated arguments.
#include "common.h"
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <cerrno>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#ifdef EFLIP_WITH_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef EFLIP_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#if EFLIP_TORCH_AT_LEAST(2, 0)
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

namespace eflip {

// 1.13: the Gloo/NCCL groups are ProcessGroups; 2.x: they are Backends (ProcessGroup became a
// dispatcher over backends). Both have the same collective methods, which is all we use.
#if EFLIP_TORCH_AT_LEAST(2, 0)
using Comm = c10d::Backend;
#else
using Comm = c10d::ProcessGroup;
#endif
using ms = std::chrono::milliseconds;

// ---- boxes held by JS externals ----------------------------------------------------------
struct StoreBox {
  c10::intrusive_ptr<c10d::Store> store;
};
struct CommBox {
  c10::intrusive_ptr<Comm> comm;
  int64_t id = 0;
  int rank = 0, size = 1;
  ms timeout{30000};
};
struct WorkBox {
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  std::vector<at::Tensor> tensors;  // kept alive until waited; divided for 'avg'
  c10::intrusive_ptr<Comm> comm;
  double divisor = 1;
  bool done = false;
};

// Comms by id, for autograd functions that run later (backward of the differentiable all-reduce).
static std::mutex g_commMu;
static std::map<int64_t, std::pair<c10::intrusive_ptr<Comm>, ms>> g_comms;
static int64_t g_nextComm = 1;

template <typename T>
static T* unbox(const Napi::Value& v, const char* what) {
  if (!v.IsExternal()) throw ArgError(std::string(what) + ": expected a native handle");
  T* p = v.As<Napi::External<T>>().Data();
  if (!p) throw ArgError(std::string(what) + ": disposed");
  return p;
}
static std::string strArg(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw ArgError(std::string(what) + ": expected a string");
  return v.As<Napi::String>().Utf8Value();
}
static CommBox& commArg(const Napi::Value& v) {
  CommBox* b = unbox<CommBox>(v, "process group");
  if (!b->comm) throw ArgError("process group: disposed");
  return *b;
}
static std::vector<at::Tensor> tensorsArg(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw ArgError(std::string(what) + ": expected an array of tensors");
  auto a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(tensorOf(handleArg(a.Get(i), what)));
  return out;
}

// ---- store -------------------------------------------------------------------------------
// storeCreate(host, port, isServer, timeoutMs) -> store. The server side binds host:port.
static Napi::Value StoreCreate(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    std::string host = strArg(info[0], "host");
    c10d::TCPStoreOptions o;
    o.port = (std::uint16_t)intArg(info[1], "port");
    o.isServer = boolArg(info[2], "isServer");
    o.waitWorkers = false;
    o.timeout = ms(intArg(info[3], "timeoutMs"));
    auto* box = new StoreBox{c10::make_intrusive<c10d::TCPStore>(host, o)};
    return Napi::External<StoreBox>::New(info.Env(), box, [](Napi::Env, StoreBox* b) { delete b; });
  });
}
// probeTalker(host, port, waitMs) -> true when a server listens at host:port and sends bytes
// of its own before it is asked anything (an SSH or HTTP-banner service, not a c10d store,
// which never speaks first). Connection refused, unresolved or silent: false. libtorch's store
// client reads what such a peer sends on a background thread and dies on it (std::bad_alloc
// from a garbage length, uncatchable), so a rendezvous checks before creating one.
static Napi::Value ProbeTalker(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    std::string host = strArg(info[0], "host");
    std::string port = std::to_string(intArg(info[1], "port"));
    int waitMs = (int)intArg(info[2], "waitMs");
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    bool talks = false;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) == 0) {
      for (addrinfo* a = res; a && !talks; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
        bool connected = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0;
        if (!connected && errno == EINPROGRESS) {
          pollfd p{fd, POLLOUT, 0};
          int err = 0;
          socklen_t len = sizeof err;
          connected = ::poll(&p, 1, waitMs) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
        }
        if (connected) {
          pollfd p{fd, POLLIN, 0};
          char c;
          talks = ::poll(&p, 1, waitMs) == 1 && ::recv(fd, &c, 1, MSG_PEEK) == 1;
        }
        ::close(fd);
      }
      freeaddrinfo(res);
    }
    return Napi::Boolean::New(info.Env(), talks);
  });
}

static StoreBox& storeArg(const Napi::Value& v) {
  StoreBox* b = unbox<StoreBox>(v, "store");
  if (!b->store) throw ArgError("store: disposed");
  return *b;
}
static Napi::Value StoreAdd(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), (double)storeArg(info[0]).store->add(strArg(info[1], "key"), intArg(info[2], "delta")));
  });
}
static Napi::Value StoreCheck(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), storeArg(info[0]).store->check({strArg(info[1], "key")}));
  });
}
static Napi::Value StoreSet(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    std::string v = strArg(info[2], "value");
    storeArg(info[0]).store->set(strArg(info[1], "key"), std::vector<uint8_t>(v.begin(), v.end()));
    return info.Env().Undefined();
  });
}
// storeGet(store, key) -> string; waits up to the store's timeout for the key.
static Napi::Value StoreGet(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    auto v = storeArg(info[0]).store->get(strArg(info[1], "key"));
    return Napi::String::New(info.Env(), std::string(v.begin(), v.end()));
  });
}
static Napi::Value StoreDispose(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    unbox<StoreBox>(info[0], "store")->store.reset();
    return info.Env().Undefined();
  });
}

// ---- process group -------------------------------------------------------------------------
// commCreate(store, backend, rank, size, timeoutMs, deviceKind, deviceValue) -> comm
// deviceKind (gloo): 'hostname' (bind that address), 'iface' (a network interface), 'default'.
static Napi::Value CommCreate(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    auto store = storeArg(info[0]).store;
    std::string backend = strArg(info[1], "backend");
    int rank = (int)intArg(info[2], "rank"), size = (int)intArg(info[3], "size");
    ms timeout(intArg(info[4], "timeoutMs"));
    c10::intrusive_ptr<Comm> comm;
    if (backend == "gloo") {
#ifdef EFLIP_WITH_GLOO
      std::string kind = strArg(info[5], "deviceKind"), value = strArg(info[6], "deviceValue");
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      if (kind == "iface") opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(value));
      else if (kind == "hostname") opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(value));
      else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      comm = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
#else
      throw ArgError("this eflip addon was built without Gloo (no gloo headers found at build time: install libgloo-dev and rebuild)");
#endif
    } else if (backend == "nccl") {
#ifdef EFLIP_WITH_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      comm = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
#else
      throw ArgError("this eflip addon was built without NCCL (needs a CUDA libtorch with nccl.h and the CUDA headers at build time)");
#endif
    } else {
      throw ArgError("backend must be 'gloo' or 'nccl'");
    }
    auto* box = new CommBox{comm, 0, rank, size, timeout};
    {
      std::lock_guard<std::mutex> l(g_commMu);
      box->id = g_nextComm++;
      g_comms[box->id] = {comm, timeout};
    }
    return Napi::External<CommBox>::New(info.Env(), box, [](Napi::Env, CommBox* b) {
      {
        std::lock_guard<std::mutex> l(g_commMu);
        g_comms.erase(b->id);
      }
      delete b;
    });
  });
}

static Napi::Value CommDispose(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    CommBox* b = unbox<CommBox>(info[0], "process group");
    {
      std::lock_guard<std::mutex> l(g_commMu);
      g_comms.erase(b->id);
    }
    b->comm.reset();
    return info.Env().Undefined();
  });
}

static bool commBuilt(const std::string& backend) {
#ifdef EFLIP_WITH_GLOO
  if (backend == "gloo") return true;
#endif
#ifdef EFLIP_WITH_NCCL
  if (backend == "nccl") return true;
#endif
  return false;
}
// commAvailable(backend) -> whether this addon was built with it
static Napi::Value CommAvailable(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), commBuilt(strArg(info[0], "backend"))); });
}

static c10d::ReduceOp reduceOpArg(const std::string& op) {
  if (op == "sum" || op == "avg") return c10d::ReduceOp(c10d::ReduceOp::SUM);
  if (op == "max") return c10d::ReduceOp(c10d::ReduceOp::MAX);
  if (op == "min") return c10d::ReduceOp(c10d::ReduceOp::MIN);
  throw ArgError("reduce op must be sum, avg, max or min");
}

static void finishWork(WorkBox& w, ms timeout) {
  if (w.done) return;
  w.done = true;  // a failed or timed-out work is not waited twice
  for (auto& k : w.works) k->wait(timeout);
  if (w.divisor != 1)
    for (auto& t : w.tensors) t.div_(w.divisor);
}

static Napi::Value wrapWork(Napi::Env env, WorkBox* w) {
  return Napi::External<WorkBox>::New(env, w, [](Napi::Env, WorkBox* b) { delete b; });
}

// allReduce(comm, tensors[], op, timeoutMs, async) -> work | undefined (in place; one
// collective per tensor, issued in order)
static Napi::Value CommAllReduce(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    CommBox& c = commArg(info[0]);
    auto tensors = tensorsArg(info[1], "tensors");
    std::string op = strArg(info[2], "op");
    ms timeout(intArg(info[3], "timeoutMs"));
    auto* w = new WorkBox();
    std::unique_ptr<WorkBox> own(w);
    w->comm = c.comm;
    w->tensors = tensors;
    if (op == "avg") w->divisor = c.size;
    c10d::AllreduceOptions o;
    o.reduceOp = reduceOpArg(op);
    o.timeout = timeout;
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      w->works.push_back(c.comm->allreduce(one, o));
    }
    if (boolArg(info[4], "async")) return wrapWork(info.Env(), own.release());
    finishWork(*w, timeout);
    return info.Env().Undefined();
  });
}

// broadcast(comm, tensors[], root, timeoutMs, async) -> work | undefined
static Napi::Value CommBroadcast(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    CommBox& c = commArg(info[0]);
    auto tensors = tensorsArg(info[1], "tensors");
    ms timeout(intArg(info[3], "timeoutMs"));
    auto* w = new WorkBox();
    std::unique_ptr<WorkBox> own(w);
    w->comm = c.comm;
    w->tensors = tensors;
    c10d::BroadcastOptions o;
    o.rootRank = (int64_t)intArg(info[2], "root");
    o.timeout = timeout;
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      w->works.push_back(c.comm->broadcast(one, o));
    }
    if (boolArg(info[4], "async")) return wrapWork(info.Env(), own.release());
    finishWork(*w, timeout);
    return info.Env().Undefined();
  });
}

// allGather(comm, outputs[size], input, timeoutMs): outputs[r] <- rank r's input
static Napi::Value CommAllGather(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    CommBox& c = commArg(info[0]);
    std::vector<std::vector<at::Tensor>> outs{tensorsArg(info[1], "outputs")};
    std::vector<at::Tensor> in{tensorOf(handleArg(info[2], "input"))};
    ms timeout(intArg(info[3], "timeoutMs"));
    c10d::AllgatherOptions o;
    o.timeout = timeout;
    c.comm->allgather(outs, in, o)->wait(timeout);
    return info.Env().Undefined();
  });
}

static Napi::Value CommBarrier(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    CommBox& c = commArg(info[0]);
    ms timeout(intArg(info[1], "timeoutMs"));
    c10d::BarrierOptions o;
    o.timeout = timeout;
    c.comm->barrier(o)->wait(timeout);
    return info.Env().Undefined();
  });
}

// workWait(work, timeoutMs): blocks until done (throws the collective's error or a timeout)
static Napi::Value WorkWait(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    finishWork(*unbox<WorkBox>(info[0], "work"), ms(intArg(info[1], "timeoutMs")));
    return info.Env().Undefined();
  });
}
static Napi::Value WorkDone(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    WorkBox* w = unbox<WorkBox>(info[0], "work");
    bool done = true;
    for (auto& k : w->works) done = done && k->isCompleted();
    return Napi::Boolean::New(info.Env(), done);
  });
}

// ---- differentiable all-reduce (sum): backward all-reduces the incoming gradient ------------
static void allReduceSumById(int64_t id, at::Tensor& t) {
  c10::intrusive_ptr<Comm> comm;
  ms timeout;
  {
    std::lock_guard<std::mutex> l(g_commMu);
    auto it = g_comms.find(id);
    if (it == g_comms.end()) throw ArgError("the process group of this all-reduce was disposed");
    comm = it->second.first;
    timeout = it->second.second;
  }
  std::vector<at::Tensor> one{t};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp(c10d::ReduceOp::SUM);
  o.timeout = timeout;
  comm->allreduce(one, o)->wait(timeout);
}

struct AllReduceSumFn : public torch::autograd::Function<AllReduceSumFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t commId) {
    ctx->saved_data["comm"] = commId;
    at::Tensor y = x.clone(at::MemoryFormat::Contiguous);
    allReduceSumById(commId, y);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    at::Tensor g = grads[0].clone(at::MemoryFormat::Contiguous);
    allReduceSumById(ctx->saved_data["comm"].toInt(), g);
    return {g, at::Tensor()};
  }
};

// allReduceSumDiff(comm, x) -> new handle: the sum of x over ranks, differentiable
static Napi::Value CommAllReduceSumDiff(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    CommBox& c = commArg(info[0]);
    const at::Tensor& x = tensorOf(handleArg(info[1], "tensor"));
    return Napi::Number::New(info.Env(), newHandle(AllReduceSumFn::apply(x, c.id)));
  });
}

// ---- gradient buckets driven by autograd hooks -------------------------------------------------
// Parameters are grouped (in reverse order: the order backward produces their gradients) into
// flat buckets of about bucketBytes. A post-hook on each parameter's gradient accumulator copies
// the fresh gradient into its bucket; when a bucket is complete and all earlier buckets are
// launched, its all-reduce starts asynchronously, while backward goes on. finish() launches what
// is left (zeros for parameters that got no gradient), waits, divides by the world size and
// writes the averaged gradients back. Launch order is the bucket order on every rank.
struct GradSyncState {
  struct Bucket {
    at::Tensor flat;
    std::vector<size_t> params;
    std::vector<int64_t> offsets;
    size_t pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };
  c10::intrusive_ptr<Comm> comm;
  int world = 1;
  ms timeout{30000};
  bool overlap = true;
  std::vector<at::Tensor> params;
  std::vector<std::shared_ptr<torch::autograd::Node>> accs;
  std::vector<uintptr_t> hookKeys;
  std::vector<std::pair<size_t, size_t>> where;  // param -> (bucket, slot)
  std::vector<Bucket> buckets;
  std::vector<char> ready;
  size_t next = 0;
  bool armed = false;
  std::mutex mu;

  at::Tensor slot(size_t p) {
    auto& b = buckets[where[p].first];
    return b.flat.narrow(0, b.offsets[where[p].second], params[p].numel());
  }
  void launchReady() {
    while (next < buckets.size() && buckets[next].pending == 0) {
      std::vector<at::Tensor> one{buckets[next].flat};
      c10d::AllreduceOptions o;
      o.reduceOp = c10d::ReduceOp(c10d::ReduceOp::SUM);
      o.timeout = timeout;
      buckets[next].work = comm->allreduce(one, o);
      next++;
    }
  }
  void markReady(size_t p) {
    std::lock_guard<std::mutex> l(mu);
    if (!armed || ready[p]) return;
    ready[p] = 1;
    const at::Tensor& g = params[p].grad();
    at::Tensor s = slot(p);
    if (g.defined()) s.copy_(g.reshape({-1}));
    else s.zero_();
    buckets[where[p].first].pending--;
    if (overlap) launchReady();
  }
};

struct ReadyHook : public torch::autograd::FunctionPostHook {
  std::weak_ptr<GradSyncState> state;
  size_t index;
  ReadyHook(std::weak_ptr<GradSyncState> s, size_t i) : state(std::move(s)), index(i) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) override {
    if (auto s = state.lock()) s->markReady(index);
    return outputs;
  }
};

struct GradSyncBox {
  std::shared_ptr<GradSyncState> state;
};

static void releaseGradSync(GradSyncBox* b) {
  if (!b->state) return;
  auto& s = *b->state;
  for (size_t i = 0; i < s.accs.size(); i++) s.accs[i]->del_post_hook(s.hookKeys[i]);
  b->state.reset();
}

// gradSyncCreate(comm, params[], bucketBytes, overlap) -> [gradSync, bucketCount]
static Napi::Value GradSyncCreate(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    CommBox& c = commArg(info[0]);
    auto s = std::make_shared<GradSyncState>();
    s->comm = c.comm;
    s->world = c.size;
    s->timeout = c.timeout;
    s->params = tensorsArg(info[1], "params");
    int64_t cap = intArg(info[2], "bucketBytes");
    s->overlap = boolArg(info[3], "overlap");
    size_t n = s->params.size();
    s->where.resize(n);
    s->ready.assign(n, 0);
    // reverse order; a new bucket when full or when dtype/device changes; the first bucket is
    // small (1 MiB at most) so that communication starts early.
    std::vector<size_t> cur;
    int64_t curBytes = 0;
    auto close = [&]() {
      if (cur.empty()) return;
      GradSyncState::Bucket b;
      int64_t total = 0;
      for (size_t p : cur) {
        s->where[p] = {s->buckets.size(), b.params.size()};
        b.params.push_back(p);
        b.offsets.push_back(total);
        total += s->params[p].numel();
      }
      b.flat = at::zeros({total}, s->params[cur[0]].options().requires_grad(false));
      s->buckets.push_back(std::move(b));
      cur.clear();
      curBytes = 0;
    };
    for (size_t k = n; k-- > 0;) {
      const at::Tensor& p = s->params[k];
      if (!p.requires_grad() || !p.is_leaf()) throw ArgError("params: every parameter must be a leaf that requires grad");
      if (!cur.empty()) {
        const at::Tensor& q = s->params[cur[0]];
        int64_t limit = s->buckets.empty() ? std::min<int64_t>(cap, 1 << 20) : cap;
        if (q.scalar_type() != p.scalar_type() || q.device() != p.device() || curBytes >= limit) close();
      }
      cur.push_back(k);
      curBytes += p.numel() * p.element_size();
    }
    close();
    for (size_t i = 0; i < n; i++) {
      auto acc = torch::autograd::impl::grad_accumulator(s->params[i]);
      if (!acc) throw ArgError("params: no gradient accumulator for parameter " + std::to_string(i));
      s->hookKeys.push_back(acc->add_post_hook(std::make_unique<ReadyHook>(s, i)));
      s->accs.push_back(std::move(acc));
    }
    size_t nb = s->buckets.size();
    auto* box = new GradSyncBox{s};
    Napi::Array out = Napi::Array::New(info.Env(), 2);
    out.Set(0u, Napi::External<GradSyncBox>::New(info.Env(), box, [](Napi::Env, GradSyncBox* b) {
      releaseGradSync(b);
      delete b;
    }));
    out.Set(1u, Napi::Number::New(info.Env(), (double)nb));
    return out;
  });
}

static GradSyncState& gradSyncArg(const Napi::Value& v) {
  GradSyncBox* b = unbox<GradSyncBox>(v, "gradSync");
  if (!b->state) throw ArgError("gradSync: disposed");
  return *b->state;
}

// gradSyncPrepare(gs): arm the hooks for the next backward
static Napi::Value GradSyncPrepare(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    auto& s = gradSyncArg(info[0]);
    std::lock_guard<std::mutex> l(s.mu);
    for (auto& b : s.buckets) {
      b.pending = b.params.size();
      b.work.reset();
    }
    std::fill(s.ready.begin(), s.ready.end(), 0);
    s.next = 0;
    s.armed = true;
    return info.Env().Undefined();
  });
}

// gradSyncFinish(gs) -> number of buckets that were already launched during backward
static Napi::Value GradSyncFinish(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    auto& s = gradSyncArg(info[0]);
    std::lock_guard<std::mutex> l(s.mu);
    if (!s.armed) throw ArgError("gradSync.finish() without prepare()");
    s.armed = false;
    size_t early = s.next;
    for (size_t p = 0; p < s.params.size(); p++) {
      if (s.ready[p]) continue;
      s.slot(p).zero_();  // no gradient on this rank: contributes zeros
      s.ready[p] = 1;
      s.buckets[s.where[p].first].pending--;
    }
    s.launchReady();
    for (auto& b : s.buckets) {
      b.work->wait(s.timeout);
      b.flat.div_(s.world);
      for (size_t k = 0; k < b.params.size(); k++) {
        at::Tensor& param = s.params[b.params[k]];
        at::Tensor avg = b.flat.narrow(0, b.offsets[k], param.numel()).view(param.sizes());
        at::Tensor& g = param.mutable_grad();
        if (g.defined()) g.copy_(avg);
        else g = avg.clone();
      }
    }
    return Napi::Number::New(info.Env(), (double)early);
  });
}

static Napi::Value GradSyncDispose(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    releaseGradSync(unbox<GradSyncBox>(info[0], "gradSync"));
    return info.Env().Undefined();
  });
}

void initDistributed(Napi::Env env, Napi::Object exports) {
  auto def = [&](const char* name, Napi::Value (*f)(const Napi::CallbackInfo&)) { exports.Set(name, Napi::Function::New(env, f, name)); };
  def("storeCreate", StoreCreate);
  def("probeTalker", ProbeTalker);
  def("storeAdd", StoreAdd);
  def("storeCheck", StoreCheck);
  def("storeSet", StoreSet);
  def("storeGet", StoreGet);
  def("storeDispose", StoreDispose);
  def("commAvailable", CommAvailable);
  def("commCreate", CommCreate);
  def("commDispose", CommDispose);
  def("commAllReduce", CommAllReduce);
  def("commBroadcast", CommBroadcast);
  def("commAllGather", CommAllGather);
  def("commBarrier", CommBarrier);
  def("commAllReduceSumDiff", CommAllReduceSumDiff);
  def("workWait", WorkWait);
  def("workDone", WorkDone);
  def("gradSyncCreate", GradSyncCreate);
  def("gradSyncPrepare", GradSyncPrepare);
  def("gradSyncFinish", GradSyncFinish);
  def("gradSyncDispose", GradSyncDispose);
}

}  // namespace eflip
