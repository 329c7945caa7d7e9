#include "sequence_store.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "lstmrt/error.hpp"

namespace lstmrt::serving {

SequenceStore::SequenceStore(int capacity, std::uint64_t idle_microseconds)
    : capacity_(std::max(1, capacity)), idle_us_(idle_microseconds) {
  for (int s = capacity_ - 1; s >= 0; --s) free_.push_back(s);
}

int SequenceStore::take_slot(std::uint64_t now_us) {
  if (free_.empty() && !lru_.empty()) {
    const Entry& oldest = entries_.at(lru_.front());
    if (now_us > oldest.last_us && now_us - oldest.last_us > idle_us_ && !claimed_.count(lru_.front())) {
      forget(lru_.front());
      ++evictions_;
    }
  }
  if (free_.empty()) {
    const int grown = capacity_ + std::max(1, capacity_ / 2);
    for (int s = grown - 1; s >= capacity_; --s) free_.push_back(s);
    capacity_ = grown;
  }
  const int slot = free_.back();
  free_.pop_back();
  return slot;
}

void SequenceStore::forget(const SequenceKey& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  free_.push_back(it->second.slot);
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

SequenceStore::Claim SequenceStore::claim(const SequenceKey& key, bool start, bool end, std::uint64_t now_us) {
  if (claimed_.count(key))
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("sequence {} has two requests in one batch: expected one request per sequence at a time",
                            key.to_string()));
  auto it = entries_.find(key);
  Claim c;
  if (start) {
    if (end) {
      if (it != entries_.end()) ending_.push_back(key);  // a restarted sequence that is also over
    } else {
      if (it == entries_.end()) {
        const int slot = take_slot(now_us);
        lru_.push_back(key);
        it = entries_.emplace(key, Entry{slot, now_us, std::prev(lru_.end())}).first;
      }
      c.write_slot = it->second.slot;
      starting_.push_back(key);
    }
  } else {
    if (it == entries_.end())
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("sequence {} is not active on this instance (never started, already ended, or idle "
                              "longer than max_sequence_idle_microseconds): expected a request with the START flag",
                              key.to_string()));
    c.read_slot = it->second.slot;
    if (end)
      ending_.push_back(key);
    else
      c.write_slot = it->second.slot;
  }
  if (it != entries_.end()) {
    it->second.last_us = now_us;
    lru_.splice(lru_.end(), lru_, it->second.lru);
  }
  claimed_.insert(key);
  return c;
}

void SequenceStore::commit(bool success) {
  for (const SequenceKey& k : ending_) forget(k);
  if (!success)
    for (const SequenceKey& k : starting_) forget(k);
  ending_.clear();
  starting_.clear();
  claimed_.clear();
}

}  // namespace lstmrt::serving
