// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). A value depends only on
// (seed, stream, index), never on call order, so a checkpointed block that restores its stream
// counter draws exactly the dropout mask it drew in forward, on any device and thread count.
// Host and device code (CUDA kernels) include this same header, so masks are equal bit for bit.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define CKPT_HD __host__ __device__ __forceinline__
#else
#define CKPT_HD inline
#endif

namespace ckpt::philox {

struct Block {
    uint32_t v[4];
    CKPT_HD uint32_t operator[](int i) const { return v[i]; }
};

CKPT_HD Block philox4x32_10(uint64_t counter, uint64_t stream, uint64_t seed) {
    uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32);
    uint32_t c2 = uint32_t(stream), c3 = uint32_t(stream >> 32);
    uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
    constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int r = 0; r < 10; ++r) {
        uint64_t p0 = uint64_t(M0) * c0, p1 = uint64_t(M1) * c2;
        uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = uint32_t(p1);
        uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = uint32_t(p0);
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += W0; k1 += W1;
    }
    return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 24 random bits, exactly representable in f32.
CKPT_HD float to_unit(uint32_t x) { return float(x >> 8) * (1.0f / 16777216.0f); }

// Element i of a stream uses word i % 4 of block i / 4.
CKPT_HD uint32_t word(uint64_t i, uint64_t stream, uint64_t seed) {
    return philox4x32_10(i / 4, stream, seed)[int(i % 4)];
}

// Streams keep the different uses of one seed apart.
enum : uint64_t {
    kStreamParams = 1ull << 60,   // + parameter index
    kStreamInput = 2ull << 60,
    kStreamTarget = 3ull << 60,
    kStreamDropout = 4ull << 60,  // + (step << 24) + dropout call index within the step
};

}  // namespace ckpt::philox
