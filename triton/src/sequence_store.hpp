// Which state slot holds which sequence, for one model instance under Triton's sequence batcher.
//
// Each live sequence (correlation ID) owns one slot of the instance's state pool, where its h and
// c wait between requests (in device memory for GPU instances). A batch is planned request by
// request with claim(), run, then finished with commit():
//   START            a free slot; the state is the initial one (h0/c0 from the request, or zeros)
//   START+END        no slot: one request is the whole sequence
//   continuing       the sequence's slot: state read from it and written back
//   END              read from the slot, which is freed at commit
// Triton releases a sequence that stays idle longer than max_sequence_idle_microseconds (or is
// cancelled) without telling the backend, so a slot can outlive its sequence. A START that finds
// no free slot therefore takes the least recently used slot when that one has been idle longer
// than the limit; otherwise (only after cancellations) the pool grows and capacity() says so.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace lstmrt::serving {

// Triton's correlation IDs are unsigned integers or strings.
struct SequenceKey {
  bool is_string = false;
  std::uint64_t number = 0;
  std::string text;

  static SequenceKey of(std::uint64_t n) { return {false, n, {}}; }
  static SequenceKey of(std::string s) { return {true, 0, std::move(s)}; }
  bool empty() const { return is_string ? text.empty() : number == 0; }  // Triton: no correlation ID
  bool operator==(const SequenceKey& o) const {
    return is_string == o.is_string && number == o.number && text == o.text;
  }
  std::string to_string() const { return is_string ? "'" + text + "'" : std::to_string(number); }
};

struct SequenceKeyHash {
  std::size_t operator()(const SequenceKey& k) const {
    return k.is_string ? std::hash<std::string>()(k.text) : std::hash<std::uint64_t>()(k.number);
  }
};

class SequenceStore {
 public:
  SequenceStore(int capacity, std::uint64_t idle_microseconds);

  struct Claim {
    int read_slot = -1;   // slot holding the state to start from; -1 = the initial state
    int write_slot = -1;  // slot to store the state after this request; -1 = the sequence ends
  };
  // Plans one request. Throws Error(kInvalidArgument) for a request that continues or ends an
  // unknown sequence, or for a sequence that already has a request in this batch.
  Claim claim(const SequenceKey& key, bool start, bool end, std::uint64_t now_us);
  // Finishes the batch: sequences that ended are forgotten; when the batch failed, so are those it
  // started (a continuing sequence keeps the state from before the failed request).
  void commit(bool success);

  int capacity() const { return capacity_; }  // slots the pool must have (grows, never shrinks)
  int active() const { return static_cast<int>(entries_.size()); }
  std::uint64_t evictions() const { return evictions_; }  // stale slots taken over
  bool contains(const SequenceKey& key) const { return entries_.count(key) != 0; }

 private:
  struct Entry {
    int slot;
    std::uint64_t last_us;
    std::list<SequenceKey>::iterator lru;
  };
  int take_slot(std::uint64_t now_us);
  void forget(const SequenceKey& key);

  int capacity_;
  std::uint64_t idle_us_;
  std::uint64_t evictions_ = 0;
  std::vector<int> free_;
  std::unordered_map<SequenceKey, Entry, SequenceKeyHash> entries_;
  std::list<SequenceKey> lru_;  // least recently used first
  // This batch: keys claimed, and those to forget at commit (ended; started, on failure).
  std::unordered_set<SequenceKey, SequenceKeyHash> claimed_;
  std::vector<SequenceKey> ending_, starting_;
};

}  // namespace lstmrt::serving
