// lstmrt-exchange-bench's host side: its shapes, the CSV and the table (the GPU measurement itself
// runs in bench/run-quick on a GPU; ctest bench_exchange runs the binary here).
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "bench/exchange.hpp"
#include "common/expect_error.hpp"

namespace lstmrt::bench {
namespace {

TEST(BenchExchange, DefaultShapesCoverGridAndClusterAtTheTargets) {
  const std::vector<ExchangeShape> shapes = default_exchange_shapes(128);
  int grid = 0, cluster = 0;
  for (const ExchangeShape& s : shapes) {
    EXPECT_EQ(s.steps, 128);
    grid += s.variant == "grid";
    cluster += s.variant == "cluster";
    if (s.variant == "cluster") EXPECT_LE(s.hidden, 512) << describe(s);
  }
  EXPECT_GE(grid, 3);
  EXPECT_GE(cluster, 2);
  // The N=1 H=1024 fp32 target shape's floor.
  EXPECT_NE(std::find(shapes.begin(), shapes.end(), ExchangeShape{"grid", DataType::kFloat32, 1, 1024, 128}),
            shapes.end());
  EXPECT_EQ(describe(shapes[0]), "grid fp32 N=1 H=256 T=128");
}

TEST(BenchExchange, ShapeListsExpandAndBadItemsAreNamed) {
  const std::vector<ExchangeShape> shapes = exchange_shapes({"grid", "cluster"}, {"fp32", "bf16"}, {1, 8}, {256}, 64);
  ASSERT_EQ(shapes.size(), 8u);
  EXPECT_EQ(shapes.front(), (ExchangeShape{"grid", DataType::kFloat32, 1, 256, 64}));
  EXPECT_EQ(shapes.back(), (ExchangeShape{"cluster", DataType::kBFloat16, 8, 256, 64}));
  test::expect_error([] { exchange_shapes({"ring"}, {"fp32"}, {1}, {8}, 4); }, ErrorCode::kInvalidArgument,
                     {"unknown variant 'ring'", "grid or cluster"});
  test::expect_error([] { exchange_shapes({"grid"}, {"fp16"}, {1}, {8}, 4); }, ErrorCode::kInvalidArgument,
                     {"fp16 has no persistent kernel"});
  test::expect_error([] { exchange_shapes({"grid"}, {"fp64"}, {1}, {8}, 4); }, ErrorCode::kInvalidArgument, {"fp64"});
  test::expect_error([] { exchange_shapes({"grid"}, {"fp32"}, {0}, {8}, 4); }, ErrorCode::kInvalidArgument,
                     {"--batch 0"});
  test::expect_error([] { exchange_shapes({"grid"}, {"fp32"}, {1}, {-3}, 4); }, ErrorCode::kInvalidArgument,
                     {"--hidden -3"});
  test::expect_error([] { exchange_shapes({"grid"}, {"fp32"}, {1}, {8}, 0); }, ErrorCode::kInvalidArgument,
                     {"--steps 0"});
}

TEST(BenchExchange, CsvAndTableShowTheFloorBesideTheFullStep) {
  ExchangeResult ok{{"grid", DataType::kFloat32, 1, 1024, 256}, "ok", 128, 30, 0.8, 0.75, 0.9, 1.6, ""};
  ExchangeResult refused{{"cluster", DataType::kBFloat16, 64, 512, 256},         "unsupported", 0, 0, 0, 0, 0, 0,
                         "the plan does not fit: H 512, N 64, \"too many\" rows"};
  std::ostringstream csv, table;
  write_exchange_csv(csv, {ok, refused});
  std::istringstream lines(csv.str());
  std::string header, first, second;
  std::getline(lines, header), std::getline(lines, first), std::getline(lines, second);
  EXPECT_EQ(header.rfind("variant,precision,batch,hidden,steps,status,blocks,runs,exchange_us_per_step,", 0), 0u);
  EXPECT_EQ(first, "grid,fp32,1,1024,256,ok,128,30,0.8,0.75,0.9,1.6,0.5,");
  // Not timed: the timing columns empty, the note quoted.
  EXPECT_EQ(second,
            "cluster,bf16,64,512,256,unsupported,,,,,,,,\"the plan does not fit: H 512, N 64, \"\"too many\"\" rows\"");
  print_exchange_table(table, {ok, refused});
  EXPECT_NE(table.str().find("grid fp32 N=1 H=1024 T=256"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("0.800"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("0.750..0.900"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("0.50"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("the plan does not fit"), std::string::npos) << table.str();
}

}  // namespace
}  // namespace lstmrt::bench
