// The gradient digest every backend computes where the data lives: a content hash of a tensor's
// raw bits with two sums for humans. The hash is defined by chunks so every device can compute
// it in parallel and get the same value for the same bits: 64-bit words (pairs of floats, an
// odd last float zero-extended) in chunks of kDigestChunkWords, each chunk FNV-1a'd from the
// offset basis, the chunk hashes FNV-1a'd in order. The sums are in double, accumulated per
// chunk in element order and then over chunks in order. (C++17: CUDA kernels include it.)
#pragma once

#include <cstdint>

namespace ckpt {

inline constexpr int64_t kDigestChunkWords = 4096;
inline constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ull;
inline constexpr uint64_t kFnvPrime = 0x100000001b3ull;

struct Digest {
    uint64_t hash = kFnvBasis;
    double sum = 0.0, abs_sum = 0.0;
};

}  // namespace ckpt
