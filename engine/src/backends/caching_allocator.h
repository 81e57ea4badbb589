// A caching device allocator in the style of PyTorch's CUDACachingAllocator: requests are
// rounded up to 512 bytes; those of at most 1 MiB come from 2 MiB segments (the small pool),
// larger ones from segments of 20 MiB (requests under 10 MiB) or of the request rounded up to
// 2 MiB; a free block is found best-fit, split when the rest is worth keeping, and merged with
// its free neighbours when released. cudaMalloc is called only when no cached block fits; when
// it fails, every wholly free segment is given back and it is tried once more.
//
// Requested bytes (what tensors asked for) are the tracking allocator's business; this class
// knows reserved bytes: what its segments hold from the driver, live or cached. It knows no
// CUDA: the device's malloc and free come in as a Heap, so the same code runs over host memory
// in tests on machines without a GPU (tst_caching_allocator).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

namespace ckpt {

// Where segments come from. alloc returns nullptr when the device is out of memory (and throws
// for any other failure); free gives a segment back.
struct Heap {
    void* (*alloc)(size_t bytes, void* ctx);
    void (*free)(void* p, void* ctx);
    void* ctx = nullptr;
};

class CachingAllocator {
public:
    explicit CachingAllocator(Heap heap) : heap_(heap) {}
    ~CachingAllocator();
    CachingAllocator(const CachingAllocator&) = delete;
    CachingAllocator& operator=(const CachingAllocator&) = delete;

    // nullptr when the device is out of memory; throws DeviceError on any other CUDA failure.
    void* allocate(size_t bytes);
    void release(void* p);
    void trim();                   // gives every wholly free segment back to the driver

    int64_t reserved() const { return reserved_; }
    int64_t reserved_peak() const { return reserved_peak_; }
    void reset_peak() { reserved_peak_ = reserved_; }
    int64_t segments() const { return segment_count_; }
    int64_t live_blocks() const { return int64_t(live_.size()); }
    // Checks the bookkeeping (blocks tile their segments, free ones are in their pool exactly
    // once, no two free neighbours left unmerged); returns an empty string when it holds.
    std::string check() const;

    // Sizes, public for the tests: the rounded block size and the segment a request opens.
    static size_t round_size(size_t bytes);
    static size_t segment_size(size_t rounded);

private:
    struct Block {
        char* ptr;
        size_t size;
        bool small;
        bool allocated = false;
        Block* prev = nullptr;  // neighbours in the same segment
        Block* next = nullptr;
    };
    struct BySize {
        bool operator()(const Block* a, const Block* b) const {
            return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
        }
    };
    using Pool = std::set<Block*, BySize>;

    Block* take(Pool& pool, size_t size);
    void split(Block* b, size_t size, Pool& pool);
    void release_free_segments();

    Heap heap_;
    std::mutex mutex_;
    Pool small_, large_;
    std::unordered_map<void*, Block*> live_;
    int64_t reserved_ = 0, reserved_peak_ = 0, segment_count_ = 0;
};

}  // namespace ckpt
