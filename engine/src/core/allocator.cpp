// Tracking allocator: exact live/peak bytes per category and an event per alloc/free.
#include "core/allocator.h"

#include <string>

#include "ckpt/units.h"
#include "core/recorder.h"

namespace ckpt {

Storage::~Storage() {
    if (owner) owner->release(*this);
}

static std::string oom_message(const OutOfMemory& i) {
    if (i.device)
        return "out of memory: the device refused " + format_bytes(i.requested) + " with " +
               format_bytes(i.free_bytes) + " free on it";
    return "out of memory: asked for " + format_bytes(i.requested) + " with " + format_bytes(i.free_bytes) + " free";
}

OutOfMemoryError::OutOfMemoryError(const OutOfMemory& i) : std::runtime_error(oom_message(i)), info(i) {}

namespace {
thread_local const DryRank* t_dry_rank = nullptr;
}

const DryRank* current_dry_rank() { return t_dry_rank; }
DryRankScope::DryRankScope(const DryRank& rank) : rank_(rank), outer_(t_dry_rank) { t_dry_rank = &rank_; }
DryRankScope::~DryRankScope() { t_dry_rank = outer_; }

Allocator::Allocator(Backend& backend, int64_t limit) : backend_(backend), limit_(limit) {
    const DryRank* r = backend.computes() ? nullptr : current_dry_rank();
    if (!r) return;
    // ZeRO's stages: 1 shards the optimizer state, 2 also the gradients, 3 also the parameters;
    // under 3 (FSDP) the gathered 16-bit unit is what the matrix products read, so the weight
    // casts of mixed precision are counted there (`communication`), not again.
    if (r->zero >= 1) shards_[size_t(Category::optimizer_state)] = r->dp;
    if (r->zero >= 2) shards_[size_t(Category::gradient)] = r->dp;
    if (r->zero >= 3) {
        shards_[size_t(Category::parameter)] = r->dp;
        shards_[size_t(Category::weight_cast)] = 0;
    }
    // DeepSpeed's model states: the parameters are the 16-bit copies the products read (no casts
    // besides), the gradients 16-bit, and the f32 master weights live with the optimizer's two
    // moments (4 + 8 = 12 bytes a parameter: each moment's allocation counts 6).
    if (r->sixteen_bit_states) {
        elem_bytes_[size_t(Category::parameter)] = 2;
        elem_bytes_[size_t(Category::gradient)] = 2;
        elem_bytes_[size_t(Category::optimizer_state)] = 6;
        shards_[size_t(Category::weight_cast)] = 0;
    }
}

std::shared_ptr<Storage> Allocator::allocate(int64_t bytes, Category category) {
    if (const int n = shards_[size_t(category)], e = elem_bytes_[size_t(category)]; n != 1 || e != 4) {
        const int64_t elems = (bytes + 3) / 4;  // f32 elements
        bytes = n == 0 ? 0 : (elems + n - 1) / n * e;
    }
    MemoryTag tag = ctx_;
    tag.category = category;
    if (limit_ > 0 && live_total_ + bytes > limit_)
        throw OutOfMemoryError({tag, bytes, limit_ - live_total_, limit_, false});
    auto s = std::make_shared<Storage>();
    if (backend_.computes() && bytes > 0) {
        s->data = backend_.allocate(size_t(bytes));
        // The device itself refused: say how much it had left, not the (absent) limit.
        if (!s->data) throw OutOfMemoryError({tag, bytes, backend_.memory().free, limit_, true});
    }
    s->bytes = bytes;
    s->tag = tag;
    s->owner = this;
    record(bytes, tag);
    return s;
}

void Allocator::retag(Storage& s, Category category) {
    if (s.tag.category == category) return;
    MemoryTag from = s.tag;
    from.phase = ctx_.phase;
    record(-s.bytes, from);
    s.tag = ctx_;
    s.tag.category = category;
    record(s.bytes, s.tag);
}

void Allocator::release(Storage& s) {
    if (s.data) backend_.release(s.data, size_t(s.bytes));
    s.data = nullptr;
    MemoryTag tag = s.tag;
    // The free happens in the current phase, whoever allocated the buffer.
    tag.block = ctx_.block;
    tag.layer = ctx_.layer;
    tag.phase = ctx_.phase;
    tag.category = s.tag.category;
    record(-s.bytes, tag);
}

void Allocator::begin_step(Recorder* recorder) {
    recorder_ = recorder;
    event_count_ = 0;
    peak_ = live_;
    at_peak_ = live_;
    peak_total_ = live_total_;
    peak_event_ = -1;
    peak_stamp_ = 0;
    peak_tag_ = ctx_;
}

// The tag comes by value, in registers: callers build it field by field just before.
void Allocator::record(int64_t bytes, MemoryTag tag) {
    int c = int(tag.category);
    live_[c] += bytes;
    live_total_ += bytes;
    if (live_[c] > peak_[c]) peak_[c] = live_[c];
    if (live_total_ > window_peak_) {
        window_peak_ = live_total_;
        window_peak_tag_ = tag;
    }
    const int64_t index = event_count_++;
    const bool recording = recorder_ && recorder_->active();
    const int64_t stamp = recording ? recorder_->stamp() : 0;
    if (bytes > 0 && live_total_ > peak_total_) {
        peak_total_ = live_total_;
        at_peak_ = live_;
        peak_event_ = index;
        peak_tag_ = tag;
        peak_stamp_ = stamp;
    }
    if (recording) recorder_->memory(stamp, bytes, tag, live_total_);
}

}  // namespace ckpt
