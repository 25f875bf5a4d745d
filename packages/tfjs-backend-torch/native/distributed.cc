// Process groups over PyTorch's own distributed layer (c10d): a TCPStore rendezvous, Gloo for CPU
// tensors, NCCL for CUDA tensors (CUDA builds only), and the four collectives data-parallel training
// needs (all-reduce, broadcast, all-gather, barrier).
//
// Every collective is a blocking call on the JS thread, so each one carries a timeout: a dead or
// stuck peer becomes a JS error within it, never a hang of the Node process. To name the rank at
// fault, every rank runs a heartbeat thread that bumps a counter in the store; after a failure the
// counters that stopped moving tell which ranks are gone.
//
// Availability is decided at compile time with __has_include: a libtorch without the c10d, Gloo
// or NCCL headers still builds the addon, and distStatus() then says why distributed is unavailable
// (TT_NO_DISTRIBUTED forces that, e.g. to test it).
#include "context.h"

#if !defined(TT_NO_DISTRIBUTED) && __has_include(<torch/csrc/distributed/c10d/TCPStore.hpp>) && \
    __has_include(<torch/csrc/distributed/c10d/ProcessGroup.hpp>)
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// The process-group headers are empty unless the macro PyTorch's own build defines is set.
#if __has_include(<torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>) && __has_include(<gloo/algorithm.h>)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define TT_HAS_GLOO 1
#endif
#if defined(TT_CUDA) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>) && __has_include(<nccl.h>)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define TT_HAS_NCCL 1
#endif
#if defined(TT_HAS_GLOO) || defined(TT_HAS_NCCL)
#define TT_HAS_DISTRIBUTED 1
#endif
#endif

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace tt {

namespace {

#ifdef TT_HAS_DISTRIBUTED

using Millis = std::chrono::milliseconds;

// The two process-group classes share their collective signatures but (from PyTorch 2.0 on) not a
// base class we can name in both versions, so a small interface hides which one is in use.
struct AnyGroup {
  virtual ~AnyGroup() = default;
  virtual c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& ts) = 0;
  virtual c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& ts, int root) = 0;
  virtual c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& out, std::vector<at::Tensor>& in) = 0;
  virtual c10::intrusive_ptr<c10d::Work> barrier() = 0;
};

template <class PG>
struct Group : AnyGroup {
  explicit Group(c10::intrusive_ptr<PG> p) : pg(std::move(p)) {}
  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& ts) override {
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    return pg->allreduce(ts, o);
  }
  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& ts, int root) override {
    c10d::BroadcastOptions o;
    o.rootRank = root;
    return pg->broadcast(ts, o);
  }
  c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>>& out, std::vector<at::Tensor>& in) override {
    return pg->allgather(out, in);
  }
  c10::intrusive_ptr<c10d::Work> barrier() override { return pg->barrier(); }
  c10::intrusive_ptr<PG> pg;
};

struct Heartbeat {
  std::atomic<bool> stop{false};
  std::thread thread;
};

// One process group per process (what data-parallel training needs). Never destroyed at exit: the
// Gloo/NCCL destructors join worker threads, and static destruction order at exit is not ours.
struct DistState {
  int rank = 0;
  int world = 1;
  std::string backend;
  std::string host;
  int port = 0;
  Millis timeout{0};
  c10::intrusive_ptr<c10d::Store> store;
  std::unique_ptr<AnyGroup> group;
  std::shared_ptr<Heartbeat> heartbeat;
  // Counters for benchmarks: tensor bytes handed to collectives, and seconds spent blocked in them.
  double payloadBytes = 0;
  double commSeconds = 0;
  int64_t collectives = 0;
};

DistState* g_dist = nullptr;

const char* kHeartbeatPrefix = "tfjs_torch/heartbeat/";
constexpr Millis kHeartbeatPeriod{500};

c10::intrusive_ptr<c10d::TCPStore> ConnectStore(const std::string& host, int port, bool server, int world, Millis timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(port);
  o.isServer = server;
  o.numWorkers = static_cast<std::size_t>(world);
  // The process group's own rendezvous waits for every rank (with the timeout), so the server
  // need not block in its constructor too.
  o.waitWorkers = false;
  o.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(host, o);
}

// Bumps this rank's counter every kHeartbeatPeriod on its own store connection (a TCPStore client
// is not meant to be shared between threads). Stops quietly when the store goes away.
void StartHeartbeat(DistState& s) {
  auto hb = std::make_shared<Heartbeat>();
  const std::string host = s.host;
  const int port = s.port, world = s.world, rank = s.rank;
  const Millis timeout = s.timeout;
  hb->thread = std::thread([hb, host, port, world, rank, timeout]() {
    try {
      auto store = ConnectStore(host, port, false, world, timeout);
      const std::string key = kHeartbeatPrefix + std::to_string(rank);
      while (!hb->stop.load()) {
        store->add(key, 1);
        std::this_thread::sleep_for(kHeartbeatPeriod);
      }
    } catch (...) {
      // The store host (rank 0) is gone; the collectives report that themselves.
    }
  });
  s.heartbeat = hb;
}

// After a failed collective: which peers stopped beating? Sampled twice, several periods apart.
std::string DiagnosePeers(DistState& s) {
  try {
    auto store = ConnectStore(s.host, s.port, false, s.world, Millis(3000));
    std::vector<int64_t> before(s.world);
    for (int r = 0; r < s.world; r++) before[r] = store->add(kHeartbeatPrefix + std::to_string(r), 0);
    std::this_thread::sleep_for(kHeartbeatPeriod * 5);
    std::vector<int> dead;
    for (int r = 0; r < s.world; r++) {
      if (r == s.rank) continue;
      if (store->add(kHeartbeatPrefix + std::to_string(r), 0) == before[r]) dead.push_back(r);
    }
    if (dead.empty()) {
      return "every peer is still alive: a rank did not enter the same collective in time (ranks running "
             "different code paths, or one much slower than the timeout allows)";
    }
    std::ostringstream os;
    os << (dead.size() == 1 ? "rank " : "ranks ");
    for (size_t i = 0; i < dead.size(); i++) os << (i ? ", " : "") << dead[i];
    os << (dead.size() == 1 ? " is" : " are") << " dead (no heartbeat)";
    return os.str();
  } catch (const std::exception&) {
    return "rank 0 is dead or unreachable (its TCPStore at " + s.host + ":" + std::to_string(s.port) + " does not answer)";
  }
}

// libtorch 1.13's TCPStore client runs a background thread that throws (so std::terminate()s the
// process) when the store's host closes the connection, i.e. when rank 0 dies. That race cannot be
// caught where it happens, so while a group exists a terminate caused by a socket error exits with
// a message naming the rank that is gone instead of a bare abort. Anything else still aborts.
std::terminate_handler g_prevTerminate = nullptr;

[[noreturn]] void OnTerminate() {
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::system_error& err) {
      if (g_dist != nullptr) {
        std::fprintf(stderr,
                     "tfjs-backend-torch: distributed: rank %d of %d lost its connection to the TCPStore at %s:%d (%s): "
                     "rank 0 is dead or unreachable; exiting\n",
                     g_dist->rank, g_dist->world, g_dist->host.c_str(), g_dist->port, err.what());
        std::fflush(stderr);
        std::_Exit(1);
      }
    } catch (...) {
    }
  }
  if (g_prevTerminate != nullptr) g_prevTerminate();
  std::abort();
}

DistState& Require(const char* op) {
  if (g_dist == nullptr) throw std::runtime_error(std::string("distributed: ") + op + " before distInit()");
  return *g_dist;
}

// Waits for `works` within the timeout; on failure throws an error naming the operation, this
// rank, and the peers at fault.
void WaitAll(DistState& s, const char* op, std::vector<c10::intrusive_ptr<c10d::Work>>& works, double bytes) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    for (auto& w : works) {
      if (!w->wait(s.timeout)) throw std::runtime_error("timed out");
    }
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (const auto* ce = dynamic_cast<const c10::Error*>(&e)) what = ce->what_without_backtrace();
    const std::string diag = DiagnosePeers(s);
    throw std::runtime_error("distributed: " + std::string(op) + " failed on rank " + std::to_string(s.rank) + " of " +
                             std::to_string(s.world) + " (timeout " + std::to_string(s.timeout.count()) +
                             " ms): " + diag + ". Cause: " + what);
  }
  s.commSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.payloadBytes += bytes;
  s.collectives++;
}

// Groups tensor indices into buckets of one dtype and at most `bucketBytes` each (a tensor larger
// than that gets a bucket of its own), in order, as DDP's reducer does.
std::vector<std::vector<size_t>> Buckets(const std::vector<at::Tensor>& ts, double bucketBytes) {
  std::vector<std::vector<size_t>> out;
  double cur = 0;
  at::ScalarType curType = at::kFloat;
  for (size_t i = 0; i < ts.size(); i++) {
    const double b = static_cast<double>(ts[i].numel() * ts[i].element_size());
    if (out.empty() || ts[i].scalar_type() != curType || cur + b > bucketBytes) {
      out.emplace_back();
      cur = 0;
      curType = ts[i].scalar_type();
    }
    out.back().push_back(i);
    cur += b;
  }
  return out;
}

at::Tensor Flatten(const std::vector<at::Tensor>& ts, const std::vector<size_t>& idx) {
  std::vector<at::Tensor> flat;
  flat.reserve(idx.size());
  for (size_t i : idx) flat.push_back(ts[i].reshape({-1}));
  return at::cat(flat).contiguous();
}

// Splits a flat bucket back into tensors shaped like ts[idx...] (each its own storage, so the table
// keeps no view pinning the whole bucket).
void Unflatten(const at::Tensor& bucket, const std::vector<at::Tensor>& ts, const std::vector<size_t>& idx, std::vector<at::Tensor>& out) {
  int64_t off = 0;
  for (size_t i : idx) {
    const int64_t n = ts[i].numel();
    out[i] = bucket.narrow(0, off, n).view(ts[i].sizes()).clone();
    off += n;
  }
}

std::string BackendList() {
  std::string out;
#ifdef TT_HAS_GLOO
  out += " gloo";
#endif
#ifdef TT_HAS_NCCL
  out += " nccl";
#endif
  return out;
}

// distInit({rank, worldSize, masterAddr, masterPort, timeoutMs, backend}) -> {rank, worldSize, backend}
TT_FN(DistInit) {
  TT_GUARD_BEGIN
  Napi::Env env = info.Env();
  if (g_dist != nullptr) throw std::runtime_error("distributed: already initialised in this process (distDestroy() first)");
  Napi::Object o = info[0].As<Napi::Object>();
  auto s = std::make_unique<DistState>();
  s->rank = o.Get("rank").As<Napi::Number>().Int32Value();
  s->world = o.Get("worldSize").As<Napi::Number>().Int32Value();
  s->host = o.Get("masterAddr").As<Napi::String>().Utf8Value();
  s->port = o.Get("masterPort").As<Napi::Number>().Int32Value();
  s->timeout = Millis(o.Get("timeoutMs").As<Napi::Number>().Int64Value());
  s->backend = o.Get("backend").As<Napi::String>().Utf8Value();
  if (s->world < 1 || s->rank < 0 || s->rank >= s->world) {
    throw std::runtime_error("distributed: rank " + std::to_string(s->rank) + " is not in [0, worldSize=" + std::to_string(s->world) + ")");
  }
  if (s->port <= 0 || s->port > 65535) throw std::runtime_error("distributed: masterPort " + std::to_string(s->port) + " is not a TCP port");
  try {
    s->store = ConnectStore(s->host, s->port, s->rank == 0, s->world, s->timeout);
  } catch (const std::exception& e) {
    throw std::runtime_error("distributed: rank " + std::to_string(s->rank) + " could not reach the TCPStore at " + s->host + ":" +
                             std::to_string(s->port) + (s->rank == 0 ? " (as its host)" : "") + ": " + e.what());
  }
#ifdef TT_HAS_GLOO
  if (s->backend == "gloo") {
    auto opts = c10d::ProcessGroupGloo::Options::create(s->timeout);
    // GLOO_SOCKET_IFNAME picks the network interface as in PyTorch; a loopback master means a
    // single-machine run, where binding to 127.0.0.1 avoids depending on the hostname resolving.
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifname != nullptr && *ifname != '\0') {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (s->host == "localhost" || s->host.rfind("127.", 0) == 0) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    s->group = std::make_unique<Group<c10d::ProcessGroupGloo>>(
        c10::make_intrusive<c10d::ProcessGroupGloo>(s->store, s->rank, s->world, opts));
  }
#endif
#ifdef TT_HAS_NCCL
  if (s->backend == "nccl") {
    // Unverified on this project's machines (no GPU build has run it yet); see docs/distributed.md.
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = s->timeout;
    s->group = std::make_unique<Group<c10d::ProcessGroupNCCL>>(
        c10::make_intrusive<c10d::ProcessGroupNCCL>(s->store, s->rank, s->world, opts));
  }
#endif
  if (!s->group) {
    throw std::runtime_error("distributed: backend '" + s->backend + "' is not in this build (available:" + BackendList() + ")");
  }
  StartHeartbeat(*s);
  g_dist = s.release();
  if (g_prevTerminate == nullptr) g_prevTerminate = std::set_terminate(OnTerminate);
  Napi::Object r = Napi::Object::New(env);
  r.Set("rank", g_dist->rank);
  r.Set("worldSize", g_dist->world);
  r.Set("backend", g_dist->backend);
  return r;
  TT_GUARD_END(info.Env())
}

// distAllReduce(handles[], preScale, postScale, bucketBytes) -> results[]: the element-wise sum over
// ranks of (t * preScale), times postScale, as new tensors. Buckets are reduced in place.
TT_FN(DistAllReduce) {
  TT_GUARD_BEGIN
  DistState& s = Require("allReduce");
  std::vector<at::Tensor> ts = TensorListArg(info, 0);
  const double pre = DoubleArg(info, 1), post = DoubleArg(info, 2), bucketBytes = DoubleArg(info, 3);
  const auto buckets = Buckets(ts, bucketBytes);
  std::vector<at::Tensor> flat;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  double bytes = 0;
  for (const auto& b : buckets) {
    at::Tensor f = Flatten(ts, b);
    if (pre != 1.0) f.mul_(pre);
    bytes += static_cast<double>(f.numel() * f.element_size());
    flat.push_back(f);
  }
  // All buckets are queued before waiting on any, so Gloo's worker threads overlap them.
  for (auto& f : flat) {
    std::vector<at::Tensor> one{f};
    works.push_back(s.group->allreduce(one));
  }
  WaitAll(s, "allReduce", works, bytes);
  std::vector<at::Tensor> out(ts.size());
  for (size_t k = 0; k < buckets.size(); k++) {
    if (post != 1.0) flat[k].mul_(post);
    Unflatten(flat[k], ts, buckets[k], out);
  }
  return ReturnTensors(info.Env(), out);
  TT_GUARD_END(info.Env())
}

// distBroadcast(handles[], root, bucketBytes) -> results[]: root's tensors on every rank (same shapes).
TT_FN(DistBroadcast) {
  TT_GUARD_BEGIN
  DistState& s = Require("broadcast");
  std::vector<at::Tensor> ts = TensorListArg(info, 0);
  const int root = static_cast<int>(IntArg(info, 1));
  const double bucketBytes = DoubleArg(info, 2);
  if (root < 0 || root >= s.world) throw std::runtime_error("distributed: broadcast root " + std::to_string(root) + " is not a rank");
  const auto buckets = Buckets(ts, bucketBytes);
  std::vector<at::Tensor> flat;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  double bytes = 0;
  for (const auto& b : buckets) {
    flat.push_back(Flatten(ts, b));
    bytes += static_cast<double>(flat.back().numel() * flat.back().element_size());
  }
  for (auto& f : flat) {
    std::vector<at::Tensor> one{f};
    works.push_back(s.group->broadcast(one, root));
  }
  WaitAll(s, "broadcast", works, bytes);
  std::vector<at::Tensor> out(ts.size());
  for (size_t k = 0; k < buckets.size(); k++) Unflatten(flat[k], ts, buckets[k], out);
  return ReturnTensors(info.Env(), out);
  TT_GUARD_END(info.Env())
}

// distAllGather(handle) -> results[worldSize]: every rank's tensor (all ranks pass one shape).
TT_FN(DistAllGather) {
  TT_GUARD_BEGIN
  DistState& s = Require("allGather");
  at::Tensor t = TensorArg(info, 0).contiguous();
  std::vector<at::Tensor> in{t};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < s.world; r++) out[0].push_back(at::empty_like(t));
  std::vector<c10::intrusive_ptr<c10d::Work>> works{s.group->allgather(out, in)};
  WaitAll(s, "allGather", works, static_cast<double>(t.numel() * t.element_size()));
  return ReturnTensors(info.Env(), out[0]);
  TT_GUARD_END(info.Env())
}

TT_FN(DistBarrier) {
  TT_GUARD_BEGIN
  DistState& s = Require("barrier");
  std::vector<c10::intrusive_ptr<c10d::Work>> works{s.group->barrier()};
  WaitAll(s, "barrier", works, 0);
  return info.Env().Undefined();
  TT_GUARD_END(info.Env())
}

// distStats() -> null before init, else {rank, worldSize, backend, payloadBytes, commSeconds, collectives}
TT_FN(DistStats) {
  TT_GUARD_BEGIN
  Napi::Env env = info.Env();
  if (g_dist == nullptr) return env.Null();
  Napi::Object r = Napi::Object::New(env);
  r.Set("rank", g_dist->rank);
  r.Set("worldSize", g_dist->world);
  r.Set("backend", g_dist->backend);
  r.Set("payloadBytes", g_dist->payloadBytes);
  r.Set("commSeconds", g_dist->commSeconds);
  r.Set("collectives", static_cast<double>(g_dist->collectives));
  return r;
  TT_GUARD_END(info.Env())
}

// distDestroy(): stops the heartbeat and releases the group (call after a final barrier).
TT_FN(DistDestroy) {
  TT_GUARD_BEGIN
  if (g_dist != nullptr) {
    g_dist->heartbeat->stop.store(true);
    if (g_dist->heartbeat->thread.joinable()) g_dist->heartbeat->thread.join();
    delete g_dist;
    g_dist = nullptr;
  }
  return info.Env().Undefined();
  TT_GUARD_END(info.Env())
}

#endif  // TT_HAS_DISTRIBUTED

// distStatus() -> {available, reason?, backends[]}
TT_FN(DistStatus) {
  Napi::Env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  Napi::Array backends = Napi::Array::New(env);
#ifdef TT_HAS_DISTRIBUTED
  r.Set("available", true);
  uint32_t n = 0;
#ifdef TT_HAS_GLOO
  backends.Set(n++, Napi::String::New(env, "gloo"));
#endif
#ifdef TT_HAS_NCCL
  backends.Set(n++, Napi::String::New(env, "nccl"));
#endif
#else
  r.Set("available", false);
  r.Set("reason",
        "the addon was built without c10d process groups: the libtorch at build time lacks "
        "torch/csrc/distributed/c10d/TCPStore.hpp, or has neither Gloo (ProcessGroupGloo.hpp and "
        "Gloo's own headers) nor, in a CUDA build, NCCL (ProcessGroupNCCL.hpp and nccl.h) "
        "(Debian: apt-get install libgloo-dev, then npm run build:native)");
#endif
  r.Set("backends", backends);
  return r;
}

}  // namespace

void RegisterDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("distStatus", Napi::Function::New(env, DistStatus));
#ifdef TT_HAS_DISTRIBUTED
  exports.Set("distInit", Napi::Function::New(env, DistInit));
  exports.Set("distAllReduce", Napi::Function::New(env, DistAllReduce));
  exports.Set("distBroadcast", Napi::Function::New(env, DistBroadcast));
  exports.Set("distAllGather", Napi::Function::New(env, DistAllGather));
  exports.Set("distBarrier", Napi::Function::New(env, DistBarrier));
  exports.Set("distStats", Napi::Function::New(env, DistStats));
  exports.Set("distDestroy", Napi::Function::New(env, DistDestroy));
#endif
}

}  // namespace tt
