// The caching device allocator (caching_allocator.h).
#include "backends/caching_allocator.h"

#include <algorithm>
#include <string>
#include <vector>

namespace ckpt {
namespace {

constexpr size_t kMinBlock = 512;                 // every size is a multiple of this
constexpr size_t kSmallSize = size_t(1) << 20;    // requests up to 1 MiB use the small pool
constexpr size_t kSmallBuffer = size_t(2) << 20;  // small-pool segments
constexpr size_t kLargeBuffer = size_t(20) << 20; // segments for requests under 10 MiB
constexpr size_t kMinLargeAlloc = size_t(10) << 20;
constexpr size_t kRoundLarge = size_t(2) << 20;   // larger segments round up to 2 MiB

}  // namespace

size_t CachingAllocator::round_size(size_t bytes) {
    return bytes < kMinBlock ? kMinBlock : (bytes + kMinBlock - 1) / kMinBlock * kMinBlock;
}

size_t CachingAllocator::segment_size(size_t rounded) {
    if (rounded <= kSmallSize) return kSmallBuffer;
    if (rounded < kMinLargeAlloc) return kLargeBuffer;
    return (rounded + kRoundLarge - 1) / kRoundLarge * kRoundLarge;
}

CachingAllocator::~CachingAllocator() {
    // Live blocks belong to tensors that outlived their session: nothing to do but free all.
    std::vector<char*> bases;
    for (Pool* pool : {&small_, &large_})
        for (Block* b : *pool)
            if (!b->prev) bases.push_back(b->ptr);
    for (auto& [p, b] : live_)
        if (!b->prev) bases.push_back(b->ptr);
    for (char* p : bases) heap_.free(p, heap_.ctx);
    for (Pool* pool : {&small_, &large_})
        for (Block* b : *pool) delete b;
    for (auto& [p, b] : live_) delete b;
}

CachingAllocator::Block* CachingAllocator::take(Pool& pool, size_t size) {
    Block key{nullptr, size, false};
    auto it = pool.lower_bound(&key);
    if (it == pool.end()) return nullptr;
    Block* b = *it;
    pool.erase(it);
    return b;
}

void CachingAllocator::split(Block* b, size_t size, Pool& pool) {
    const size_t rest = b->size - size;
    // Small blocks split down to the minimum; large ones only when more than 1 MiB remains.
    if (b->small ? rest < kMinBlock : rest <= kSmallSize) return;
    Block* r = new Block{b->ptr + size, rest, b->small};
    r->prev = b;
    r->next = b->next;
    if (b->next) b->next->prev = r;
    b->next = r;
    b->size = size;
    pool.insert(r);
}

void* CachingAllocator::allocate(size_t bytes) {
    const size_t size = round_size(bytes);
    const bool small = size <= kSmallSize;
    std::lock_guard<std::mutex> lock(mutex_);
    Pool& pool = small ? small_ : large_;
    Block* b = take(pool, size);
    if (!b) {
        const size_t seg = segment_size(size);
        void* p = heap_.alloc(seg, heap_.ctx);
        if (!p) {
            release_free_segments();  // what is cached may be what the device lacks
            p = heap_.alloc(seg, heap_.ctx);
            if (!p) return nullptr;
        }
        reserved_ += int64_t(seg);
        reserved_peak_ = std::max(reserved_peak_, reserved_);
        ++segment_count_;
        b = new Block{static_cast<char*>(p), seg, small};
    }
    split(b, size, pool);
    b->allocated = true;
    live_[b->ptr] = b;
    return b->ptr;
}

void CachingAllocator::release(void* p) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(p);
    if (it == live_.end()) return;
    Block* b = it->second;
    live_.erase(it);
    b->allocated = false;
    Pool& pool = b->small ? small_ : large_;
    // Merge with free neighbours of the same segment.
    if (b->prev && !b->prev->allocated) {
        Block* a = b->prev;
        pool.erase(a);
        a->size += b->size;
        a->next = b->next;
        if (b->next) b->next->prev = a;
        delete b;
        b = a;
    }
    if (b->next && !b->next->allocated) {
        Block* c = b->next;
        pool.erase(c);
        b->size += c->size;
        b->next = c->next;
        if (c->next) c->next->prev = b;
        delete c;
    }
    pool.insert(b);
}

void CachingAllocator::release_free_segments() {
    for (Pool* pool : {&small_, &large_}) {
        for (auto it = pool->begin(); it != pool->end();) {
            Block* b = *it;
            if (!b->prev && !b->next) {  // a whole segment, free
                heap_.free(b->ptr, heap_.ctx);
                reserved_ -= int64_t(b->size);
                --segment_count_;
                delete b;
                it = pool->erase(it);
            } else {
                ++it;
            }
        }
    }
}

void CachingAllocator::trim() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_free_segments();
}

}  // namespace ckpt

namespace ckpt {

std::string CachingAllocator::check() const {
    std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(mutex_));
    // Collect segment heads from both the free pools and the live blocks.
    std::set<const Block*> heads;
    size_t free_seen = 0;
    for (const Pool* pool : {&small_, &large_})
        for (const Block* b : *pool) {
            if (b->allocated) return "an allocated block sits in a free pool";
            const Block* h = b;
            while (h->prev) h = h->prev;
            heads.insert(h);
        }
    for (const auto& [p, b] : live_) {
        if (!b->allocated) return "a live block is marked free";
        if (b->ptr != p) return "a live block is filed under another address";
        const Block* h = b;
        while (h->prev) h = h->prev;
        heads.insert(h);
    }
    int64_t reserved = 0;
    size_t blocks = 0;
    for (const Block* h : heads) {
        for (const Block* b = h; b; b = b->next) {
            ++blocks;
            reserved += int64_t(b->size);
            if (b->next && b->next->ptr != b->ptr + b->size) return "blocks of a segment do not tile it";
            if (b->next && b->next->prev != b) return "a segment's links disagree";
            if (!b->allocated) {
                ++free_seen;
                if (b->next && !b->next->allocated) return "two free neighbours were not merged";
                const Pool& pool = b->small ? small_ : large_;
                if (!pool.count(const_cast<Block*>(b))) return "a free block is missing from its pool";
            } else if (!live_.count(b->ptr)) {
                return "an allocated block is not in the live map";
            }
        }
    }
    if (free_seen != small_.size() + large_.size()) return "a pool holds blocks of no segment";
    if (blocks != free_seen + live_.size()) return "blocks are counted twice";
    if (reserved != reserved_) return "reserved bytes disagree with the segments";
    return {};
}

}  // namespace ckpt
