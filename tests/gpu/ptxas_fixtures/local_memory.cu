// Fixture for scripts/check-ptxas: a kernel that must be reported as using local memory (a register
// array written and read at run-time indices lives on the stack), so the check is seen to fail
// when it should.
__global__ void local_memory_fixture_kernel(const int* index, float* out) {
  float table[64];
  for (int k = 0; k < 64; ++k) table[k] = 0.0f;
  for (int k = 0; k < 64; ++k) table[index[k] & 63] += out[k];
  out[threadIdx.x] = table[index[threadIdx.x] & 63];
}
