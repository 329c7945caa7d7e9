// The CPU SIMT executor (executor.hpp): fibers, the scheduler, barriers, shuffles, the virtual
// clock, shared memory and its checks.
//
// Fibers: boost::context's fcontext (make_fcontext / jump_fcontext: a few nanoseconds a switch),
// each on its own mmap'd stack with a PROT_NONE guard page below it; stacks are pooled across
// launches. Under AddressSanitizer every switch is announced with __sanitizer_start_switch_fiber /
// __sanitizer_finish_switch_fiber, so ASan follows the stacks. A fiber ends by returning from the
// kernel; a faulted launch unwinds every started fiber with an internal exception (Cancelled) from
// its current switch point, so destructors on fiber stacks run and nothing leaks.
//
// Scheduling state: fibers ready to run are kept per block (block stickiness, executor.hpp); a
// fiber waiting at a block barrier, a cluster barrier or a shuffle is off the ready lists until
// the last participant arrives. Stall detection counts, per fiber, consecutive polls that saw no
// progress (progress_ counts stores, atomics, barrier and shuffle completions, exits); a fiber
// with kIdlePolls of them is idle, and when every ready fiber is idle the scheduler advances the
// virtual clock (or declares a deadlock, executor.hpp).
//
// Shared memory shadow, one entry per byte: the barrier epoch of the last write (0: never written
// in this launch) and its writer, the epoch of the last read and its reader (kMany when several
// threads read it in that epoch). The block's epoch advances at every completed block or cluster
// barrier. A plain access conflicts with one of another thread in the same epoch when one of them
// writes (kRemote writers, through map_shared_rank, are ordered by the exchange protocol instead).
#include "simt/executor.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/context/detail/fcontext.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define LSTMRT_SIMT_ASAN 1
#else
#define LSTMRT_SIMT_ASAN 0
#endif

namespace lstmrt::simt {

namespace ctx = boost::context::detail;

namespace {

constexpr int kIdlePolls = 256;  // fruitless polls before a fiber counts as idle
constexpr std::int64_t kFirstJumpNs = 1000;
#if LSTMRT_SIMT_ASAN
constexpr std::size_t kStackBytes = std::size_t{512} << 10;  // ASan frames are several times larger
#else
constexpr std::size_t kStackBytes = std::size_t{128} << 10;
#endif
constexpr std::uint16_t kNobody = 0xffff, kMany = 0xfffe, kRemote = 0xfffd;

struct Cancelled {};  // unwinds a fiber of a faulted launch; never escapes the fiber

DeviceFacts g_facts;
std::uint64_t g_seed = 1;
std::uint64_t g_launches = 0;
LaunchStats g_stats;

struct KernelAttributes {
  int max_dynamic_smem = -1;  // -1: the default limit
  bool non_portable_cluster = false;
  int static_smem = 0;  // largest seen in a launch
};
std::map<KernelId, KernelAttributes>& attributes() {
  static std::map<KernelId, KernelAttributes> a;
  return a;
}

// A stack: `bytes` usable above one guard page.
struct Stack {
  void* mapping = nullptr;
  std::size_t mapping_bytes = 0;
  void* bottom() const { return static_cast<char*>(mapping) + page(); }
  void* top() const { return static_cast<char*>(mapping) + mapping_bytes; }
  static std::size_t page() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }
};
class StackPool {
 public:
  ~StackPool() {
    for (Stack& s : free_) munmap(s.mapping, s.mapping_bytes);
  }
  Stack take() {
    if (!free_.empty()) {
      Stack s = free_.back();
      free_.pop_back();
#if LSTMRT_SIMT_ASAN
      ASAN_UNPOISON_MEMORY_REGION(s.bottom(), kStackBytes);
#endif
      return s;
    }
    Stack s;
    s.mapping_bytes = kStackBytes + Stack::page();
    s.mapping =
        mmap(nullptr, s.mapping_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s.mapping == MAP_FAILED) throw std::runtime_error("simt: mmap of a fiber stack failed");
    mprotect(s.mapping, Stack::page(), PROT_NONE);
    return s;
  }
  void give(const Stack& s) { free_.push_back(s); }

 private:
  std::vector<Stack> free_;
};

struct Shadow {
  std::uint32_t write_epoch = 0, read_epoch = 0;
  std::uint16_t writer = kNobody, reader = kNobody;
};

}  // namespace

struct SharedRegion {
  std::unique_ptr<unsigned char[]> bytes_storage;
  unsigned char* base = nullptr;
  std::size_t bytes = 0;
  int block = 0;
  const void* declaration = nullptr;  // null: the dynamic region
  const char* name = "dynamic";
  std::vector<Shadow> shadow;
};

namespace {

enum class State { kReady, kBarrier, kCluster, kShuffle, kSleep, kDone };

struct Fiber {
  int block = 0, thread = 0;
  int step = -1;
  State state = State::kReady;
  bool started = false;
  Stack stack;
  ctx::fcontext_t context = nullptr;
  Site site;                  // where it waits
  std::uint64_t wake_ns = 0;  // kSleep
  std::uint64_t seen_progress = ~std::uint64_t{0};
  int idle_polls = 0;
  int ready_index = -1;  // position in its block's ready list
  std::uint64_t shuffle_out = 0;
  void* fake_stack = nullptr;  // ASan
};

struct Collective {  // one shuffle of one warp, until every lane of its mask arrived
  unsigned mask = 0, arrived = 0;
  int lane_mask = 0;
  Site site;
  std::uint64_t values[32] = {};
};

struct Block {
  int id = 0, cluster = 0, rank = 0;
  std::uint32_t epoch = 1;
  int exited = 0;
  int arrived = 0;
  Site barrier_site;
  std::vector<Fiber*> ready;
  std::vector<std::unique_ptr<SharedRegion>> regions;  // [0]: dynamic
  std::vector<std::vector<Collective>> warps;
};

struct Cluster {
  std::vector<int> blocks;
  int arrived = 0, exited = 0;
  Site site;
};

std::string thread_ranges(const std::vector<int>& threads) {
  std::vector<int> t = threads;
  std::sort(t.begin(), t.end());
  std::string out;
  for (std::size_t i = 0; i < t.size();) {
    std::size_t j = i;
    while (j + 1 < t.size() && t[j + 1] == t[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += i == j ? fmt::format("{}", t[i]) : fmt::format("{}-{}", t[i], t[j]);
    i = j + 1;
  }
  return out;
}

std::string where(const Site& s) {
  const char* slash = std::strrchr(s.file, '/');
  return fmt::format("{}:{}", slash ? slash + 1 : s.file, s.line);
}

class Executor {
 public:
  cudaError_t run(const LaunchRequest& request, const std::function<void()>& body);

  Fiber& current() {
    if (!current_) throw std::logic_error("simt: a device primitive called outside a kernel launch");
    return *current_;
  }
  Block& block_of(const Fiber& f) { return blocks_[f.block]; }
  const LaunchRequest& request() const { return request_; }

  void sync_block(Site site);
  void cluster_sync(Site site);
  std::uint64_t shuffle(unsigned mask, std::uint64_t bits, int lane_mask, Site site);
  void poll(Site site);
  void sleep(unsigned ns, Site site);
  void progress() {
    ++progress_;
    if (current_) set_idle(*current_, 0);
  }
  std::uint64_t clock() const { return clock_; }
  SharedRegion* region(int block, const void* declaration, std::size_t bytes, std::size_t align, const char* name);
  SharedRegion* dynamic_region(int block, std::size_t align);
  void access(SharedRegion* r, const void* address, std::size_t bytes, bool write, bool exempt, bool mapped);
  SharedRegion* map(const SharedRegion* r, const void* address, int rank, const void** mapped);

  // Records the launch's fault (the first one) and unwinds the calling fiber.
  [[noreturn]] void fault(FaultKind kind, const std::string& detail);
  bool active() const { return current_ != nullptr; }

 private:
  static void entry(ctx::transfer_t t);
  void switch_to(Fiber& f);
  void yield();  // back to the scheduler; throws Cancelled when the launch faulted
  void make_ready(Fiber& f);
  void unready(Fiber& f);
  Fiber* pick();
  void thread_exit(Fiber& f);
  void record_fault(FaultKind kind, int block, int thread, int step, const std::string& detail);
  void stalled();
  std::string describe_waiters() const;
  void set_idle(Fiber& f, int polls);

  LaunchRequest request_;
  const std::function<void()>* body_ = nullptr;
  std::vector<Fiber> fibers_;
  std::vector<Block> blocks_;
  std::vector<Cluster> clusters_;
  std::vector<int> ready_blocks_;  // blocks with a non-empty ready list
  std::vector<int> ready_block_index_;
  int ready_count_ = 0, idle_ready_ = 0, sleeping_ = 0, live_ = 0;
  Fiber* current_ = nullptr;
  int last_block_ = -1;
  double stay_ = 0.0;
  std::mt19937_64 rng_;
  std::uint64_t clock_ = 0, progress_ = 0, stall_progress_ = ~std::uint64_t{0};
  std::int64_t stalled_ns_ = 0, jump_ns_ = kFirstJumpNs;
  bool aborting_ = false;
  std::unique_ptr<KernelFault> fault_;
  ctx::fcontext_t scheduler_ = nullptr;
  void* scheduler_fake_stack_ = nullptr;
  const void* scheduler_stack_bottom_ = nullptr;
  std::size_t scheduler_stack_size_ = 0;
  StackPool stacks_;
  LaunchStats stats_;
};

Executor& executor() {
  static Executor e;
  return e;
}

// ---- fibers ---------------------------------------------------------------------------------------

void Executor::entry(ctx::transfer_t t) {
  Executor& ex = *static_cast<Executor*>(t.data);
  ex.scheduler_ = t.fctx;
#if LSTMRT_SIMT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &ex.scheduler_stack_bottom_, &ex.scheduler_stack_size_);
#endif
  Fiber& f = *ex.current_;
  try {
    (*ex.body_)();
  } catch (const Cancelled&) {
  } catch (const KernelFault&) {
    // recorded already by fault()
  } catch (const std::exception& e) {
    ex.record_fault(FaultKind::kKernelException, f.block, f.thread, f.step,
                    std::string("the kernel threw: ") + e.what());
  }
  ex.thread_exit(f);
#if LSTMRT_SIMT_ASAN
  __sanitizer_start_switch_fiber(nullptr, ex.scheduler_stack_bottom_, ex.scheduler_stack_size_);
#endif
  ctx::jump_fcontext(ex.scheduler_, nullptr);  // never resumed
}

void Executor::switch_to(Fiber& f) {
  current_ = &f;
  ++stats_.switches;
  ++clock_;
  if (!f.started) {
    f.started = true;
    f.stack = stacks_.take();
    f.context = ctx::make_fcontext(f.stack.top(), kStackBytes, &Executor::entry);
  }
#if LSTMRT_SIMT_ASAN
  __sanitizer_start_switch_fiber(&scheduler_fake_stack_, f.stack.bottom(), kStackBytes);
#endif
  const ctx::transfer_t t = ctx::jump_fcontext(f.context, this);
#if LSTMRT_SIMT_ASAN
  __sanitizer_finish_switch_fiber(scheduler_fake_stack_, nullptr, nullptr);
#endif
  f.context = t.fctx;
  current_ = nullptr;
  if (f.state == State::kDone) stacks_.give(f.stack);
}

void Executor::yield() {
#if LSTMRT_SIMT_ASAN
  Fiber& f = *current_;
  __sanitizer_start_switch_fiber(&f.fake_stack, scheduler_stack_bottom_, scheduler_stack_size_);
#endif
  const ctx::transfer_t t = ctx::jump_fcontext(scheduler_, nullptr);
  scheduler_ = t.fctx;
#if LSTMRT_SIMT_ASAN
  __sanitizer_finish_switch_fiber(f.fake_stack, &scheduler_stack_bottom_, &scheduler_stack_size_);
#endif
  if (aborting_) throw Cancelled{};
}

void Executor::make_ready(Fiber& f) {
  f.state = State::kReady;
  Block& b = blocks_[f.block];
  if (b.ready.empty()) {
    ready_block_index_[b.id] = static_cast<int>(ready_blocks_.size());
    ready_blocks_.push_back(b.id);
  }
  f.ready_index = static_cast<int>(b.ready.size());
  b.ready.push_back(&f);
  ++ready_count_;
}

void Executor::unready(Fiber& f) {
  Block& b = blocks_[f.block];
  Fiber* last = b.ready.back();
  b.ready[f.ready_index] = last;
  last->ready_index = f.ready_index;
  b.ready.pop_back();
  f.ready_index = -1;
  --ready_count_;
  set_idle(f, 0);
  if (b.ready.empty()) {
    const int at = ready_block_index_[b.id];
    const int moved = ready_blocks_.back();
    ready_blocks_[at] = moved;
    ready_block_index_[moved] = at;
    ready_blocks_.pop_back();
  }
}

void Executor::set_idle(Fiber& f, int polls) {
  const bool was = f.idle_polls >= kIdlePolls;
  f.idle_polls = polls;
  const bool is = f.idle_polls >= kIdlePolls;
  if (was != is) idle_ready_ += is ? 1 : -1;
}

Fiber* Executor::pick() {
  int block = -1;
  if (last_block_ >= 0 && !blocks_[last_block_].ready.empty() && stay_ > 0.0 &&
      static_cast<double>(rng_() >> 11) * 0x1.0p-53 < stay_)
    block = last_block_;
  else
    block = ready_blocks_[rng_() % ready_blocks_.size()];
  last_block_ = block;
  const std::vector<Fiber*>& ready = blocks_[block].ready;
  return ready[rng_() % ready.size()];
}

void Executor::thread_exit(Fiber& f) {
  Block& b = blocks_[f.block];
  ++b.exited;
  ++clusters_[b.cluster].exited;
  --live_;
  if (f.ready_index >= 0) unready(f);
  if (f.state == State::kSleep) --sleeping_;
  f.state = State::kDone;
  ++progress_;
  if (aborting_) return;
  const int warp = f.thread / 32, lane = f.thread % 32;
  if (b.arrived > 0)
    record_fault(FaultKind::kBarrierAfterExit, f.block, f.thread, f.step,
                 fmt::format("exited while {} thread(s) of its block wait at the barrier at {}", b.arrived,
                             where(b.barrier_site)));
  else if (clusters_[b.cluster].arrived > 0)
    record_fault(FaultKind::kBarrierAfterExit, f.block, f.thread, f.step,
                 fmt::format("exited while {} thread(s) of its cluster wait at the cluster barrier at {}",
                             clusters_[b.cluster].arrived, where(clusters_[b.cluster].site)));
  for (const Collective& c : b.warps[warp])
    if (c.mask & (1u << lane))
      record_fault(FaultKind::kShuffleMissingLane, f.block, f.thread, f.step,
                   fmt::format("exited while lanes of warp {} wait for it in the shuffle at {} (mask {:#010x})", warp,
                               where(c.site), c.mask));
}

void Executor::record_fault(FaultKind kind, int block, int thread, int step, const std::string& detail) {
  if (!fault_) fault_ = std::make_unique<KernelFault>(kind, request_.name, block, thread, step, detail);
  aborting_ = true;
}

void Executor::fault(FaultKind kind, const std::string& detail) {
  if (current_) {
    record_fault(kind, current_->block, current_->thread, current_->step, detail);
    throw Cancelled{};
  }
  record_fault(kind, -1, -1, -1, detail);
  throw Cancelled{};
}

// ---- the launch -------------------------------------------------------------------------------------

cudaError_t Executor::run(const LaunchRequest& r, const std::function<void()>& body) {
  if (current_) throw std::logic_error("simt: a launch from inside a kernel");
  const DeviceFacts& d = g_facts;
  KernelAttributes& attr = attributes()[r.kernel];
  if (r.grid < 1 || r.block < 1 || static_cast<int>(r.block) > d.max_threads_per_block)
    return cudaErrorInvalidConfiguration;
  const int smem_limit = attr.max_dynamic_smem >= 0 ? attr.max_dynamic_smem : d.smem_per_block_default;
  if (r.dynamic_smem > static_cast<std::size_t>(smem_limit)) return cudaErrorInvalidValue;
  if (r.cooperative && r.cluster > 0) return cudaErrorInvalidValue;
  if (r.cooperative) {
    if (!d.cooperative_launch) return cudaErrorNotSupported;
    const int per_sm = occupancy_blocks_per_sm(r.kernel, static_cast<int>(r.block), r.dynamic_smem);
    if (static_cast<std::int64_t>(per_sm) * d.sm_count < r.grid) return cudaErrorCooperativeLaunchTooLarge;
  }
  if (r.cluster > 0) {
    if (!d.cluster_launch) return cudaErrorNotSupported;
    const int max = attr.non_portable_cluster ? d.max_cluster_size : d.portable_cluster_size;
    if (static_cast<int>(r.cluster) > max || r.grid % r.cluster != 0) return cudaErrorInvalidClusterSize;
    if (occupancy_active_clusters(r.kernel, r.block, r.dynamic_smem, r.cluster) < 1) return cudaErrorInvalidClusterSize;
  }

  request_ = r;
  body_ = &body;
  rng_.seed(g_seed * 0x9E3779B97F4A7C15ull + (++g_launches));
  static constexpr double kStay[] = {0.0, 0.5, 0.9, 0.99};
  stay_ = kStay[g_seed % 4];
  clock_ = 1'000'000;  // a nonzero start: a kernel may use 0 as "not yet read"
  progress_ = 0;
  stall_progress_ = ~std::uint64_t{0};
  stalled_ns_ = 0;
  jump_ns_ = kFirstJumpNs;
  aborting_ = false;
  fault_.reset();
  last_block_ = -1;
  stats_ = {};
  stats_.blocks = r.grid;
  stats_.threads_per_block = r.block;

  const unsigned cluster = r.cluster > 0 ? r.cluster : 1;
  blocks_.clear();
  blocks_.resize(r.grid);
  clusters_.assign(r.grid / cluster, Cluster{});
  ready_blocks_.clear();
  ready_block_index_.assign(r.grid, -1);
  fibers_.assign(static_cast<std::size_t>(r.grid) * r.block, Fiber{});
  ready_count_ = idle_ready_ = sleeping_ = 0;
  live_ = static_cast<int>(fibers_.size());
  for (unsigned b = 0; b < r.grid; ++b) {
    Block& blk = blocks_[b];
    blk.id = static_cast<int>(b);
    blk.cluster = static_cast<int>(b / cluster);
    blk.rank = static_cast<int>(b % cluster);
    blk.warps.resize((r.block + 31) / 32);
    clusters_[blk.cluster].blocks.push_back(blk.id);
  }
  for (unsigned b = 0; b < r.grid; ++b)
    for (unsigned t = 0; t < r.block; ++t) {
      Fiber& f = fibers_[static_cast<std::size_t>(b) * r.block + t];
      f.block = static_cast<int>(b);
      f.thread = static_cast<int>(t);
      make_ready(f);
    }

  while (live_ > 0 && !aborting_) {
    if (idle_ready_ == ready_count_) {
      stalled();
      continue;
    }
    Fiber* f = pick();
    switch_to(*f);
  }
  if (aborting_) {
    // Unwind every started fiber from its switch point; never-started ones have nothing to unwind.
    for (Fiber& f : fibers_) {
      if (f.state == State::kDone) continue;
      if (!f.started) {
        f.state = State::kDone;
        continue;
      }
      switch_to(f);
    }
  }
  for (const Block& b : blocks_)
    for (std::size_t i = 1; i < b.regions.size(); ++i)
      attr.static_smem = std::max(attr.static_smem, static_cast<int>(b.regions[i]->bytes));
  stats_.virtual_ns = static_cast<std::int64_t>(clock_ - 1'000'000);
  g_stats = stats_;
  blocks_.clear();
  fibers_.clear();
  if (fault_) {
    std::unique_ptr<KernelFault> f = std::move(fault_);
    throw *f;
  }
  return cudaSuccess;
}

// Every ready fiber is idle (or none is ready): wake sleepers, advance the clock, or give up.
void Executor::stalled() {
  if (sleeping_ > 0) {
    std::uint64_t wake = ~std::uint64_t{0};
    for (const Fiber& f : fibers_)
      if (f.state == State::kSleep) wake = std::min(wake, f.wake_ns);
    clock_ = std::max(clock_, wake);
    for (Fiber& f : fibers_)
      if (f.state == State::kSleep && f.wake_ns <= clock_) --sleeping_, make_ready(f);
    return;
  }
  if (ready_count_ == 0) {
    record_fault(FaultKind::kDeadlock, -1, -1, -1, "no thread can run; " + describe_waiters());
    return;
  }
  if (stall_progress_ != progress_) {  // progress since the last stall: a fresh one
    stall_progress_ = progress_;
    stalled_ns_ = 0;
    jump_ns_ = kFirstJumpNs;
  }
  if (stalled_ns_ >= g_facts.deadlock_ns) {
    record_fault(FaultKind::kDeadlock, -1, -1, -1,
                 fmt::format("every running thread polls without anything changing for {} virtual ns; {}", stalled_ns_,
                             describe_waiters()));
    return;
  }
  clock_ += static_cast<std::uint64_t>(jump_ns_);
  stalled_ns_ += jump_ns_;
  jump_ns_ *= 2;
  ++stats_.clock_jumps;
  for (Block& b : blocks_)
    for (Fiber* f : b.ready) set_idle(*f, 0);
}

std::string Executor::describe_waiters() const {
  // Group threads by (block, what they do, where).
  std::map<std::tuple<int, std::string, int>, std::vector<int>> groups;
  for (const Fiber& f : fibers_) {
    std::string what;
    switch (f.state) {
      case State::kDone: continue;
      case State::kReady: what = f.idle_polls > 0 ? "polling at " + where(f.site) : "running"; break;
      case State::kBarrier: what = "at the barrier at " + where(f.site); break;
      case State::kCluster: what = "at the cluster barrier at " + where(f.site); break;
      case State::kShuffle: what = "in the shuffle at " + where(f.site); break;
      case State::kSleep: what = "sleeping at " + where(f.site); break;
    }
    groups[{f.block, what, f.step}].push_back(f.thread);
  }
  std::string out;
  int shown = 0;
  for (const auto& [key, threads] : groups) {
    if (++shown > 12) {
      out += fmt::format("; ... ({} more groups)", groups.size() - 12);
      break;
    }
    if (!out.empty()) out += "; ";
    out += fmt::format("block {} threads {} {}", std::get<0>(key), thread_ranges(threads), std::get<1>(key));
    if (std::get<2>(key) >= 0) out += fmt::format(" (step {})", std::get<2>(key));
  }
  return out;
}

// ---- synchronisation ----------------------------------------------------------------------------

void Executor::sync_block(Site site) {
  Fiber& f = current();
  Block& b = block_of(f);
  if (b.exited > 0)
    fault(FaultKind::kBarrierAfterExit,
          fmt::format("reaches the barrier at {} after {} thread(s) of its block exited", where(site), b.exited));
  if (b.arrived > 0 && (b.barrier_site.line != site.line || std::strcmp(b.barrier_site.file, site.file) != 0)) {
    std::vector<int> waiting;
    for (unsigned t = 0; t < request_.block; ++t)
      if (fibers_[static_cast<std::size_t>(f.block) * request_.block + t].state == State::kBarrier)
        waiting.push_back(static_cast<int>(t));
    fault(FaultKind::kBarrierDivergence,
          fmt::format("waits at the barrier at {} while threads {} wait at the barrier at {}", where(site),
                      thread_ranges(waiting), where(b.barrier_site)));
  }
  const int warp = f.thread / 32, lane = f.thread % 32;
  for (const Collective& c : b.warps[warp])
    if (c.mask & (1u << lane))
      fault(FaultKind::kShuffleMissingLane,
            fmt::format("waits at the barrier at {} while lanes of its warp wait for it in the shuffle at {}",
                        where(site), where(c.site)));
  if (b.arrived == 0) b.barrier_site = site;
  ++b.arrived;
  f.site = site;
  if (b.arrived == static_cast<int>(request_.block)) {  // the last one releases everybody
    b.arrived = 0;
    ++b.epoch;
    ++progress_;
    for (unsigned t = 0; t < request_.block; ++t) {
      Fiber& o = fibers_[static_cast<std::size_t>(f.block) * request_.block + t];
      if (o.state == State::kBarrier) make_ready(o);
    }
    set_idle(f, 0);
    yield();
    return;
  }
  unready(f);
  f.state = State::kBarrier;
  yield();
}

void Executor::cluster_sync(Site site) {
  Fiber& f = current();
  Cluster& c = clusters_[block_of(f).cluster];
  if (c.exited > 0)
    fault(FaultKind::kBarrierAfterExit,
          fmt::format("reaches the cluster barrier at {} after {} thread(s) of its cluster exited", where(site),
                      c.exited));
  if (c.arrived > 0 && (c.site.line != site.line || std::strcmp(c.site.file, site.file) != 0))
    fault(FaultKind::kBarrierDivergence,
          fmt::format("waits at the cluster barrier at {} while {} thread(s) wait at the "
                      "cluster barrier at {}",
                      where(site), c.arrived, where(c.site)));
  if (block_of(f).arrived > 0)
    fault(FaultKind::kBarrierDivergence,
          fmt::format("waits at the cluster barrier at {} while threads of its block wait "
                      "at the block barrier at {}",
                      where(site), where(block_of(f).barrier_site)));
  if (c.arrived == 0) c.site = site;
  ++c.arrived;
  f.site = site;
  if (c.arrived == static_cast<int>(c.blocks.size() * request_.block)) {
    c.arrived = 0;
    ++progress_;
    for (int b : c.blocks) {
      ++blocks_[b].epoch;
      for (unsigned t = 0; t < request_.block; ++t) {
        Fiber& o = fibers_[static_cast<std::size_t>(b) * request_.block + t];
        if (o.state == State::kCluster) make_ready(o);
      }
    }
    set_idle(f, 0);
    yield();
    return;
  }
  unready(f);
  f.state = State::kCluster;
  yield();
}

std::uint64_t Executor::shuffle(unsigned mask, std::uint64_t bits, int lane_mask, Site site) {
  Fiber& f = current();
  Block& b = block_of(f);
  const int warp = f.thread / 32, lane = f.thread % 32;
  const int warp_lanes = std::min(32, static_cast<int>(request_.block) - warp * 32);
  const unsigned warp_bits = warp_lanes == 32 ? ~0u : (1u << warp_lanes) - 1;
  if (!(mask & (1u << lane)))
    fault(FaultKind::kShuffleMismatch,
          fmt::format("calls the shuffle at {} with mask {:#010x}, which leaves out its own lane {}", where(site), mask,
                      lane));
  if (mask & ~warp_bits)
    fault(FaultKind::kShuffleMissingLane,
          fmt::format("shuffle at {} with mask {:#010x} names lanes beyond the warp's {}", where(site), mask,
                      warp_lanes));
  for (int l = 0; l < warp_lanes; ++l) {
    if (!(mask & (1u << l)) || l == lane) continue;
    const Fiber& o = fibers_[static_cast<std::size_t>(f.block) * request_.block + warp * 32 + l];
    if (o.state == State::kDone)
      fault(FaultKind::kShuffleMissingLane,
            fmt::format("shuffle at {} with mask {:#010x}: lane {} has exited", where(site), mask, l));
    if (o.state == State::kBarrier || o.state == State::kCluster)
      fault(FaultKind::kShuffleMissingLane,
            fmt::format("shuffle at {} with mask {:#010x}: lane {} waits at the barrier at {}", where(site), mask, l,
                        where(o.site)));
  }
  std::vector<Collective>& pending = b.warps[warp];
  Collective* c = nullptr;
  for (Collective& p : pending) {
    if (!(p.mask & mask)) continue;
    if (p.mask != mask)
      fault(FaultKind::kShuffleMismatch,
            fmt::format("shuffle at {} with mask {:#010x} while lanes wait in the shuffle at {} "
                        "with mask {:#010x}",
                        where(site), mask, where(p.site), p.mask));
    if (p.site.line != site.line || std::strcmp(p.site.file, site.file) != 0 || p.lane_mask != lane_mask)
      fault(FaultKind::kShuffleMismatch,
            fmt::format("shuffle at {} (xor {}) while lanes of the same mask wait in the shuffle at {} (xor {})",
                        where(site), lane_mask, where(p.site), p.lane_mask));
    c = &p;
  }
  if (!c) {
    pending.push_back(Collective{});
    c = &pending.back();
    c->mask = mask;
    c->lane_mask = lane_mask;
    c->site = site;
  }
  c->values[lane] = bits;
  c->arrived |= 1u << lane;
  f.site = site;
  if (c->arrived != mask) {
    unready(f);
    f.state = State::kShuffle;
    yield();
    return f.shuffle_out;
  }
  // The last lane: deliver every lane's result.
  for (int l = 0; l < 32; ++l) {
    if (!(mask & (1u << l))) continue;
    const int src = l ^ (lane_mask & 31);
    if (!(mask & (1u << src)))
      fault(FaultKind::kShuffleMismatch,
            fmt::format("shuffle at {} (xor {}, mask {:#010x}): lane {} reads lane {}, which is not in the mask",
                        where(site), lane_mask, mask, l, src));
    Fiber& o = fibers_[static_cast<std::size_t>(f.block) * request_.block + warp * 32 + l];
    o.shuffle_out = c->values[src];
    if (l != lane) make_ready(o);
  }
  pending.erase(pending.begin() + (c - pending.data()));
  ++progress_;
  set_idle(f, 0);
  yield();
  return f.shuffle_out;
}

void Executor::poll(Site site) {
  Fiber& f = current();
  ++stats_.polls;
  f.site = site;
  if (f.seen_progress != progress_) {
    f.seen_progress = progress_;
    set_idle(f, 0);
  } else {
    set_idle(f, f.idle_polls + 1);
  }
  yield();
}

void Executor::sleep(unsigned ns, Site site) {
  Fiber& f = current();
  f.site = site;
  f.wake_ns = clock_ + ns;
  unready(f);
  f.state = State::kSleep;
  ++sleeping_;
  yield();
}

// ---- shared memory --------------------------------------------------------------------------------

SharedRegion* Executor::region(int block, const void* declaration, std::size_t bytes, std::size_t align,
                               const char* name) {
  Block& b = blocks_[block];
  for (std::size_t i = 1; i < b.regions.size(); ++i)
    if (b.regions[i]->declaration == declaration) return b.regions[i].get();
  if (b.regions.empty()) dynamic_region(block, 16);
  std::size_t total = request_.dynamic_smem + bytes;
  for (std::size_t i = 1; i < b.regions.size(); ++i) total += b.regions[i]->bytes;
  if (total > static_cast<std::size_t>(g_facts.smem_per_block_optin))
    fault(FaultKind::kSharedTooLarge,
          fmt::format("static shared '{}' ({} bytes) brings the block's shared memory to {} "
                      "bytes, beyond the device's {}",
                      name, bytes, total, g_facts.smem_per_block_optin));
  auto r = std::make_unique<SharedRegion>();
  r->bytes = bytes;
  r->bytes_storage.reset(new unsigned char[bytes > 0 ? bytes : 1]);
  r->base = r->bytes_storage.get();
  r->block = block;
  r->declaration = declaration;
  r->name = name;
  r->shadow.assign(bytes, Shadow{});
  if (reinterpret_cast<std::uintptr_t>(r->base) % align != 0)
    fault(FaultKind::kSharedMisaligned, fmt::format("static shared '{}' could not be {}-byte aligned", name, align));
  b.regions.push_back(std::move(r));
  return b.regions.back().get();
}

SharedRegion* Executor::dynamic_region(int block, std::size_t align) {
  Block& b = blocks_[block];
  if (!b.regions.empty()) return b.regions[0].get();
  auto r = std::make_unique<SharedRegion>();
  r->bytes = request_.dynamic_smem;
  // Exact size (ASan sees one byte past the end); operator new[] aligns to 16 bytes on this ABI.
  r->bytes_storage.reset(new unsigned char[r->bytes > 0 ? r->bytes : 1]);
  r->base = r->bytes_storage.get();
  r->block = b.id;
  r->shadow.assign(r->bytes, Shadow{});
  if (reinterpret_cast<std::uintptr_t>(r->base) % align != 0)
    fault(FaultKind::kSharedMisaligned, fmt::format("dynamic shared memory could not be {}-byte aligned", align));
  b.regions.push_back(std::move(r));
  return b.regions[0].get();
}

void Executor::access(SharedRegion* r, const void* address, std::size_t bytes, bool write, bool exempt, bool mapped) {
  Fiber& f = current();
  if (!r) fault(FaultKind::kSharedOutOfBounds, "access through a null shared-memory pointer");
  const auto* p = static_cast<const unsigned char*>(address);
  const std::ptrdiff_t offset = p - r->base;
  const auto what = [&] {
    return fmt::format("{} of {} byte(s) at offset {} of block {}'s shared '{}' ({} bytes)", write ? "write" : "read",
                       bytes, offset, r->block, r->name, r->bytes);
  };
  if (offset < 0 || static_cast<std::size_t>(offset) + bytes > r->bytes)
    fault(FaultKind::kSharedOutOfBounds, what() + ": out of bounds");
  if (reinterpret_cast<std::uintptr_t>(p) % bytes != 0) fault(FaultKind::kSharedMisaligned, what() + ": misaligned");
  const Block& owner = blocks_[r->block];
  const std::uint32_t epoch = owner.epoch;
  const auto me = static_cast<std::uint16_t>(f.block == r->block && !mapped ? f.thread : kRemote);
  for (std::size_t i = 0; i < bytes; ++i) {
    Shadow& s = r->shadow[static_cast<std::size_t>(offset) + i];
    if (!write) {
      if (s.write_epoch == 0) fault(FaultKind::kSharedUninitialized, what() + ": nothing wrote it in this launch");
      if (!exempt && s.writer != kRemote && s.writer != me && s.write_epoch == epoch)
        fault(
            FaultKind::kSharedRace,
            what() + fmt::format(": thread {} wrote it with no barrier in between (read-after-write race)", s.writer));
      if (!exempt) {
        if (s.read_epoch == epoch && s.reader != me)
          s.reader = kMany;
        else if (s.read_epoch != epoch)
          s.read_epoch = epoch, s.reader = me;
      }
      continue;
    }
    if (!exempt && s.write_epoch == epoch && s.writer != me && s.writer != kRemote)
      fault(FaultKind::kSharedRace,
            what() + fmt::format(": thread {} wrote it with no barrier in between (write-after-write race)", s.writer));
    if (!exempt && s.read_epoch == epoch && s.reader != me && s.reader != kRemote)
      fault(FaultKind::kSharedRace, what() +
                                        (s.reader == kMany ? std::string(": other threads read it")
                                                           : fmt::format(": thread {} read it", s.reader)) +
                                        " with no barrier in between (write-after-read race)");
    s.write_epoch = epoch;
    s.writer = exempt ? kRemote : me;
  }
  if (write) progress();
}

SharedRegion* Executor::map(const SharedRegion* r, const void* address, int rank, const void** mapped) {
  const Fiber& f = current();
  const Cluster& c = clusters_[block_of(f).cluster];
  if (rank < 0 || rank >= static_cast<int>(c.blocks.size()))
    fault(FaultKind::kClusterRank,
          fmt::format("map_shared_rank to rank {} in a cluster of {} block(s)", rank, c.blocks.size()));
  if (!r || blocks_[r->block].cluster != block_of(f).cluster)
    fault(FaultKind::kClusterRank, "map_shared_rank of an address outside the cluster's shared memory");
  const std::ptrdiff_t offset = static_cast<const unsigned char*>(address) - r->base;
  const int target = c.blocks[rank];
  SharedRegion* t = nullptr;
  if (!r->declaration) {
    t = dynamic_region(target, 16);  // the peer may not have touched its dynamic shared memory yet
  } else {
    t = region(target, r->declaration, r->bytes, 1, r->name);
  }
  *mapped = t->base + offset;
  return t;
}

}  // namespace

// ---- public API -----------------------------------------------------------------------------------

const char* to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::kBarrierDivergence: return "barrier divergence";
    case FaultKind::kBarrierAfterExit: return "barrier after exit";
    case FaultKind::kShuffleMissingLane: return "shuffle with a missing lane";
    case FaultKind::kShuffleMismatch: return "mismatched shuffle";
    case FaultKind::kDeadlock: return "deadlock";
    case FaultKind::kSharedOutOfBounds: return "shared memory out of bounds";
    case FaultKind::kSharedMisaligned: return "misaligned shared memory access";
    case FaultKind::kSharedUninitialized: return "read of unwritten shared memory";
    case FaultKind::kSharedRace: return "shared memory race";
    case FaultKind::kClusterRank: return "bad cluster rank";
    case FaultKind::kSharedTooLarge: return "too much shared memory";
    case FaultKind::kKernelException: return "exception in the kernel";
  }
  return "fault";
}

KernelFault::KernelFault(FaultKind kind, const std::string& kernel, int block, int thread, int step,
                         const std::string& detail)
    : std::runtime_error(fmt::format("simt: {}{}{}{}: {}: {}", kernel,
                                     block >= 0 ? fmt::format(" block {}", block) : "",
                                     thread >= 0 ? fmt::format(" thread {}", thread) : "",
                                     step >= 0 ? fmt::format(" step {}", step) : "", to_string(kind), detail)),
      kind_(kind),
      kernel_(kernel),
      block_(block),
      thread_(thread),
      step_(step) {}

ScopedDevice::ScopedDevice(const DeviceFacts& facts, std::uint64_t seed) : saved_facts_(g_facts), saved_seed_(g_seed) {
  g_facts = facts;
  g_seed = seed;
}
ScopedDevice::~ScopedDevice() {
  g_facts = saved_facts_;
  g_seed = saved_seed_;
}
const DeviceFacts& device_facts() { return g_facts; }
void set_schedule_seed(std::uint64_t seed) { g_seed = seed; }
const LaunchStats& last_launch_stats() { return g_stats; }

cudaError_t launch(const LaunchRequest& request, const std::function<void()>& body) {
  return executor().run(request, body);
}

cudaError_t func_set_attribute(KernelId kernel, cudaFuncAttribute attr, int value) {
  KernelAttributes& a = attributes()[kernel];
  switch (attr) {
    case cudaFuncAttributeMaxDynamicSharedMemorySize:
      if (value < 0 || value + a.static_smem > g_facts.smem_per_block_optin) return cudaErrorInvalidValue;
      a.max_dynamic_smem = value;
      return cudaSuccess;
    case cudaFuncAttributeNonPortableClusterSizeAllowed: a.non_portable_cluster = value != 0; return cudaSuccess;
    default: return cudaErrorInvalidValue;
  }
}

int func_static_smem(KernelId kernel) { return attributes()[kernel].static_smem; }

cudaError_t device_attribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return cudaErrorInvalidDevice;
  const DeviceFacts& d = g_facts;
  switch (attr) {
    case cudaDevAttrMultiProcessorCount: *value = d.sm_count; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = d.smem_per_block_optin; return cudaSuccess;
    case cudaDevAttrCooperativeLaunch: *value = d.cooperative_launch; return cudaSuccess;
    case cudaDevAttrClusterLaunch: *value = d.cluster_launch; return cudaSuccess;
    case cudaDevAttrMaxThreadsPerBlock: *value = d.max_threads_per_block; return cudaSuccess;
    case cudaDevAttrMaxRegistersPerMultiprocessor: *value = d.registers_per_sm; return cudaSuccess;
    default: return cudaErrorInvalidValue;
  }
}

int occupancy_blocks_per_sm(KernelId kernel, int block_threads, std::size_t dynamic_smem) {
  const DeviceFacts& d = g_facts;
  if (block_threads < 1) return 0;
  const std::size_t smem = dynamic_smem + static_cast<std::size_t>(attributes()[kernel].static_smem);
  int n = std::min(d.max_blocks_per_sm, d.max_threads_per_sm / block_threads);
  n = std::min(n, d.registers_per_sm / (d.registers_per_thread * block_threads));
  if (smem > 0) n = std::min(n, static_cast<int>(static_cast<std::size_t>(d.smem_per_sm) / smem));
  return std::max(n, 0);
}

int occupancy_active_clusters(KernelId kernel, unsigned block_threads, std::size_t dynamic_smem, unsigned cluster) {
  const DeviceFacts& d = g_facts;
  if (cluster < 1) return 0;
  const int per_sm = occupancy_blocks_per_sm(kernel, static_cast<int>(block_threads), dynamic_smem);
  int clusters = 0;
  for (int first = 0; first < d.sm_count; first += d.sms_per_gpc)
    clusters += std::min(d.sms_per_gpc, d.sm_count - first) * per_sm / static_cast<int>(cluster);
  return clusters;
}

int occupancy_potential_cluster_size(KernelId kernel, unsigned block_threads, std::size_t dynamic_smem) {
  const DeviceFacts& d = g_facts;
  if (!d.cluster_launch) return 0;
  const int per_sm = occupancy_blocks_per_sm(kernel, static_cast<int>(block_threads), dynamic_smem);
  const int max = attributes()[kernel].non_portable_cluster ? d.max_cluster_size : d.portable_cluster_size;
  return std::min(max, std::min(d.sms_per_gpc, d.sm_count) * per_sm);
}

unsigned thread_x() { return static_cast<unsigned>(executor().current().thread); }
unsigned block_x() { return static_cast<unsigned>(executor().current().block); }
unsigned block_dim_x() { return executor().request().block; }
unsigned grid_dim_x() { return executor().request().grid; }
void note_step(int step) { executor().current().step = step; }
void sync_block(Site site) { executor().sync_block(site); }
void cluster_sync(Site site) { executor().cluster_sync(site); }
std::uint64_t shuffle_xor(unsigned mask, std::uint64_t bits, int lane_mask, Site site) {
  return executor().shuffle(mask, bits, lane_mask, site);
}
void poll(Site site) { executor().poll(site); }
void progress() { executor().progress(); }
void sleep_ns(unsigned ns, Site site) { executor().sleep(ns, site); }
std::uint64_t global_timer_ns() {
  executor().current();
  return executor().clock();
}
SharedRegion* dynamic_shared(std::size_t align) { return executor().dynamic_region(executor().current().block, align); }
SharedRegion* static_shared(const void* declaration, std::size_t bytes, std::size_t align, const char* name) {
  return executor().region(executor().current().block, declaration, bytes, align, name);
}
unsigned char* region_base(const SharedRegion* region) { return region->base; }
SharedRegion* map_region(const SharedRegion* region, const void* address, int rank, const void** mapped) {
  return executor().map(region, address, rank, mapped);
}
void shared_access(SharedRegion* region, const void* address, std::size_t bytes, bool write, bool exempt, bool mapped) {
  executor().access(region, address, bytes, write, exempt, mapped);
}

}  // namespace lstmrt::simt
