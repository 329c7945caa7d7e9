// Slots of the sequence state pool: START / continue / END, stale slots after Triton's idle
// timeout, growth, failed batches.
#include <gtest/gtest.h>

#include <set>

#include "common/expect_error.hpp"
#include "sequence_store.hpp"

namespace lstmrt::serving {
namespace {

using lstmrt::test::expect_error;
using Key = SequenceKey;

TEST(SequenceStore, StartContinueEnd) {
  SequenceStore s(4, 1000);
  auto a = s.claim(Key::of(7), true, false, 0);
  EXPECT_EQ(a.read_slot, -1);
  ASSERT_GE(a.write_slot, 0);
  auto b = s.claim(Key::of("seven"), true, false, 0);  // string and integer IDs are different sequences
  EXPECT_NE(b.write_slot, a.write_slot);
  s.commit(true);
  auto a2 = s.claim(Key::of(7), false, false, 10);
  EXPECT_EQ(a2.read_slot, a.write_slot);
  EXPECT_EQ(a2.write_slot, a.write_slot);
  auto b2 = s.claim(Key::of("seven"), false, true, 10);
  EXPECT_EQ(b2.read_slot, b.write_slot);
  EXPECT_EQ(b2.write_slot, -1);
  s.commit(true);
  EXPECT_EQ(s.active(), 1);
  EXPECT_FALSE(s.contains(Key::of("seven")));
  expect_error([&] { s.claim(Key::of("seven"), false, false, 20); }, ErrorCode::kInvalidArgument,
               {"sequence 'seven' is not active", "START"});
  s.commit(true);
}

TEST(SequenceStore, StartAndEndTogetherTakesNoSlot) {
  SequenceStore s(1, 1000);
  auto c = s.claim(Key::of(1), true, true, 0);
  EXPECT_EQ(c.read_slot, -1);
  EXPECT_EQ(c.write_slot, -1);
  s.commit(true);
  EXPECT_EQ(s.active(), 0);
  EXPECT_EQ(s.capacity(), 1);
}

TEST(SequenceStore, RestartReusesTheSlotWithTheInitialState) {
  SequenceStore s(2, 1000);
  const int slot = s.claim(Key::of(3), true, false, 0).write_slot;
  s.commit(true);
  auto again = s.claim(Key::of(3), true, false, 5);
  EXPECT_EQ(again.read_slot, -1);
  EXPECT_EQ(again.write_slot, slot);
  s.commit(true);
  EXPECT_EQ(s.active(), 1);
}

TEST(SequenceStore, TwoRequestsOfOneSequenceInABatchAreRefused) {
  SequenceStore s(4, 1000);
  s.claim(Key::of(5), true, false, 0);
  expect_error([&] { s.claim(Key::of(5), false, false, 0); }, ErrorCode::kInvalidArgument,
               {"sequence 5 has two requests in one batch"});
  s.commit(true);
}

TEST(SequenceStore, FailedBatchForgetsSequencesItStartedAndEnded) {
  SequenceStore s(4, 1000);
  s.claim(Key::of(1), true, false, 0);
  s.claim(Key::of(2), true, false, 0);
  s.commit(true);
  s.claim(Key::of(1), false, false, 1);  // continues: keeps its slot and old state
  s.claim(Key::of(2), false, true, 1);   // ends: gone either way
  s.claim(Key::of(3), true, false, 1);   // started by the failed batch: gone
  s.commit(false);
  EXPECT_TRUE(s.contains(Key::of(1)));
  EXPECT_FALSE(s.contains(Key::of(2)));
  EXPECT_FALSE(s.contains(Key::of(3)));
  EXPECT_EQ(s.active(), 1);
}

TEST(SequenceStore, StaleSlotIsTakenOverAfterTheIdleLimit) {
  SequenceStore s(2, 100);
  const int first = s.claim(Key::of(1), true, false, 0).write_slot;
  s.claim(Key::of(2), true, false, 50);
  s.commit(true);
  // Full; sequence 1 idle 150 > 100 µs: Triton has released it, its slot is reused.
  const int third = s.claim(Key::of(3), true, false, 150).write_slot;
  s.commit(true);
  EXPECT_EQ(third, first);
  EXPECT_EQ(s.capacity(), 2);
  EXPECT_EQ(s.evictions(), 1u);
  EXPECT_FALSE(s.contains(Key::of(1)));
  EXPECT_TRUE(s.contains(Key::of(2)));
}

TEST(SequenceStore, GrowsWhenNoSlotIsStale) {
  SequenceStore s(2, 1000);
  std::set<int> slots;
  for (int k = 0; k < 5; ++k) slots.insert(s.claim(Key::of(k + 1), true, false, 10).write_slot);
  s.commit(true);
  EXPECT_EQ(slots.size(), 5u);
  EXPECT_GE(s.capacity(), 5);
  for (int slot : slots) EXPECT_LT(slot, s.capacity());
  EXPECT_EQ(s.evictions(), 0u);
}

TEST(SequenceStore, ASlotIdleLessThanTheLimitIsNeverTakenOver) {
  SequenceStore s(2, 100);
  s.claim(Key::of(1), true, false, 0);
  s.claim(Key::of(2), true, false, 0);
  s.commit(true);
  const int third = s.claim(Key::of(3), true, false, 60).write_slot;  // idle 60 <= 100: still live
  s.commit(true);
  EXPECT_TRUE(s.contains(Key::of(1)));
  EXPECT_TRUE(s.contains(Key::of(2)));
  EXPECT_GE(third, 2);
  EXPECT_GT(s.capacity(), 2);
  EXPECT_EQ(s.evictions(), 0u);
}

TEST(SequenceStore, LeastRecentlyUsedIsTheOneTakenOver) {
  SequenceStore s(2, 100);
  s.claim(Key::of(1), true, false, 0);
  s.claim(Key::of(2), true, false, 0);
  s.commit(true);
  s.claim(Key::of(1), false, false, 90);  // 1 used recently, 2 idle since 0
  s.commit(true);
  s.claim(Key::of(3), true, false, 150);
  s.commit(true);
  EXPECT_TRUE(s.contains(Key::of(1)));
  EXPECT_FALSE(s.contains(Key::of(2)));
}

}  // namespace
}  // namespace lstmrt::serving
