// Whether a report agrees with itself (recorded_run.h, check_report). The replay is the tracking
// allocator's bookkeeping (core/allocator.cpp) done again from the report's numbers: live bytes
// per category start at the baseline and move by each event; the peak total is reached by the
// first allocation that passes every total before it, and at that event the at-peak breakdown,
// the peak's tag and its time are taken. A report the engine wrote matches it to the byte; a
// report that does not was edited or damaged, and drawing it would draw something false. Every
// sum is checked (checked.h), so a hostile value is a message, never a wrapped number.
#include <string>

#include "ckpt/checked.h"
#include "ckpt/recorded_run.h"
#include "ckpt/units.h"

namespace ckpt {
namespace {

struct Contradiction {
    std::string message;
};

[[noreturn]] void fail(const std::string& where, const std::string& why) { throw Contradiction{where + ": " + why}; }

// "−1,099,511,627,776": grouped, with a real minus sign.
std::string count(int64_t v) {
    const std::string s = format_count(v);
    return v < 0 ? "\u2212" + s.substr(1) : s;
}

std::string cat(Category c) { return std::string(category_name(c)); }

// "" when (block, layer) is a place in the model: block -1 (outside every block) with layer -1,
// or a block of the model with layer -1 (the whole block) or one of the block's layers.
std::string outside(int32_t block, int32_t layer, const ModelSpec& spec) {
    const int64_t n = int64_t(spec.blocks.size());
    if (block < -1 || block >= n)
        return "block " + std::to_string(block) + " is not in the model (blocks 0 to " + std::to_string(n - 1) +
               ", or -1)";
    if (block == -1) return layer == -1 ? "" : "layer " + std::to_string(layer) + " outside every block (expected -1)";
    const int64_t layers = int64_t(spec.blocks[size_t(block)].layer_count());
    if (layer < -1 || layer >= layers)
        return "layer " + std::to_string(layer) + " is not in block " + std::to_string(block) + " (layers 0 to " +
               std::to_string(layers - 1) + ", or -1)";
    return "";
}

void check_place(const std::string& where, const MemoryTag& t, const ModelSpec& spec) {
    if (std::string why = outside(t.block, t.layer, spec); !why.empty()) fail(where, why);
}

int64_t sum(const CategoryBytes& b, const std::string& where) {
    int64_t t = 0;
    for (int c = 0; c < kCategoryCount; ++c)
        if (!checked_add(t, b[size_t(c)], &t)) fail(where, "the categories add up past the int64 range");
    return t;
}

bool same_tag(const MemoryTag& a, const MemoryTag& b) {
    return a.category == b.category && a.block == b.block && a.layer == b.layer && a.phase == b.phase;
}

void check_blocks(const StepReport& r, const ModelSpec& spec) {
    if (r.blocks.size() != spec.blocks.size())
        fail("blocks", "has " + std::to_string(r.blocks.size()) + " blocks, the model " + std::to_string(spec.blocks.size()));
    // Totals a front end shows or adds up: each must stay within int64.
    int64_t kept = r.loss_kept_bytes, avoided = 0, forward = 0, backward = 0, recompute = 0;
    for (size_t i = 0; i < r.blocks.size(); ++i) {
        const BlockReport& b = r.blocks[i];
        const std::string at = "blocks[" + std::to_string(i) + "]";
        if (b.index != int(i)) fail(at + ".index", "is " + std::to_string(b.index) + ", expected " + std::to_string(i));
        if (b.layers.size() != spec.blocks[i].layer_count())
            fail(at + ".layers", "has " + std::to_string(b.layers.size()) + " layers, the model's block " +
                                     std::to_string(spec.blocks[i].layer_count()));
        if (!checked_add(kept, b.kept_bytes, &kept))
            fail(at + ".kept_bytes", "the kept bytes of the blocks and the loss add up past the int64 range");
        if (!checked_add(avoided, b.avoided_bytes, &avoided))
            fail(at + ".avoided_bytes", "the avoided bytes of the blocks add up past the int64 range");
        if (!checked_add(forward, b.forward_ns, &forward) || !checked_add(backward, b.backward_ns, &backward) ||
            !checked_add(recompute, b.recompute_ns, &recompute))
            fail(at, "the blocks' times add up past the int64 range");
    }
}

// A report without its events: what holds of any step's peaks (the replay below checks these
// and more when the events are there). The peak is one moment of the step, so its breakdown adds
// up to it and no category at it passes that category's own peak.
void check_peaks(const StepReport& r) {
    const int64_t base = sum(r.baseline, "memory.baseline");
    sum(r.peak, "memory.peak");
    const int64_t at = sum(r.at_peak, "memory.at_peak");
    if (at != r.peak_total)
        fail("memory.at_peak", "adds up to " + count(at) + " bytes, not the peak_total of " + count(r.peak_total));
    if (base > r.peak_total) fail("memory.peak_total", "is below the baseline's " + count(base) + " bytes");
    for (int c = 0; c < kCategoryCount; ++c) {
        const size_t k = size_t(c);
        const std::string name = cat(Category(c));
        if (r.baseline[k] > r.peak[k])
            fail("memory.peak." + name, "is below the baseline's " + count(r.baseline[k]) + " bytes");
        if (r.at_peak[k] > r.peak[k])
            fail("memory.at_peak." + name, "is above the category's own peak of " + count(r.peak[k]) + " bytes");
    }
    if (r.peak_time_ns > r.step_ns)
        fail("memory.peak_time_ns", "is after the step's end (" + count(r.step_ns) + " ns)");
    if (r.peak_event < 0) {
        if (r.at_peak != r.baseline) fail("memory.at_peak", "is not the baseline, with no peak event");
        if (r.peak_time_ns != 0) fail("memory.peak_time_ns", "is not 0, with no peak event");
    }
}

// The allocator's bookkeeping again, event by event.
void replay(const StepReport& r, const ModelSpec& spec) {
    CategoryBytes live = r.baseline, peak = r.baseline, at_peak = r.baseline;
    int64_t total = sum(r.baseline, "memory.baseline"), peak_total = total, peak_event = -1, previous = 0;
    for (size_t i = 0; i < r.events.size(); ++i) {
        const MemoryEvent& e = r.events[i];
        const std::string at = "events[" + std::to_string(i) + "]";
        if (e.time_ns < previous)
            fail(at, "at " + count(e.time_ns) + " ns, earlier than events[" + std::to_string(i - 1) + "] (" + count(previous) +
                         " ns)");
        if (e.time_ns > r.step_ns) fail(at, "at " + count(e.time_ns) + " ns, after the step's end (" + count(r.step_ns) + " ns)");
        previous = e.time_ns;
        check_place(at, e.tag, spec);
        const size_t c = size_t(e.tag.category);
        if (!checked_add(live[c], e.bytes, &live[c]))
            fail(at, cat(e.tag.category) + " live bytes pass the int64 range");
        if (live[c] < 0) fail(at, cat(e.tag.category) + " live bytes go negative (" + count(live[c]) + ")");
        if (!checked_add(total, e.bytes, &total)) fail(at, "live bytes pass the int64 range");
        if (e.live_total != total)
            fail(at + "[6]", "live_total " + count(e.live_total) + " is not the baseline plus the events up to it (" +
                                 count(total) + ")");
        if (live[c] > peak[c]) peak[c] = live[c];
        if (e.bytes > 0 && total > peak_total) {
            peak_total = total;
            at_peak = live;
            peak_event = int64_t(i);
        }
    }
    for (int c = 0; c < kCategoryCount; ++c)
        if (r.peak[size_t(c)] != peak[size_t(c)])
            fail("memory.peak." + cat(Category(c)),
                 "states " + count(r.peak[size_t(c)]) + " bytes, the events reach " + count(peak[size_t(c)]));
    if (r.peak_total != peak_total)
        fail("memory.peak_total", "states " + count(r.peak_total) + " bytes, the events reach " + count(peak_total));
    if (r.peak_event != peak_event)
        fail("memory.peak_event", "states " + std::to_string(r.peak_event) + ", the events first reach the peak at " +
                                      std::to_string(peak_event));
    for (int c = 0; c < kCategoryCount; ++c)
        if (r.at_peak[size_t(c)] != at_peak[size_t(c)])
            fail("memory.at_peak." + cat(Category(c)),
                 "states " + count(r.at_peak[size_t(c)]) + " bytes, the events have " + count(at_peak[size_t(c)]));
    if (peak_event >= 0) {
        const MemoryEvent& p = r.events[size_t(peak_event)];
        if (!same_tag(r.peak_tag, p.tag))
            fail("memory.peak_tag", "is not the tag of the peak event (events[" + std::to_string(peak_event) + "])");
        if (r.peak_time_ns != p.time_ns)
            fail("memory.peak_time_ns", "states " + count(r.peak_time_ns) + " ns, the peak event is at " + count(p.time_ns));
    } else if (r.peak_time_ns != 0) {
        fail("memory.peak_time_ns", "is not 0, with no peak event");
    }
    for (size_t i = 0; i < r.spans.size(); ++i) {
        const Span& s = r.spans[i];
        const std::string at = "spans[" + std::to_string(i) + "]";
        check_place(at, {Category::temporary, s.block, s.layer, s.phase}, spec);
        if (s.end_ns < s.start_ns) fail(at, "ends at " + count(s.end_ns) + " ns, before its start (" + count(s.start_ns) + " ns)");
        if (s.end_ns > r.step_ns) fail(at, "ends at " + count(s.end_ns) + " ns, after the step's end (" + count(r.step_ns) + " ns)");
    }
}

}  // namespace

Status check_report(const StepReport& r, const ModelSpec& spec) {
    try {
        check_blocks(r, spec);
        check_place("memory.peak_tag", r.peak_tag, spec);
        if (r.status == StepStatus::out_of_memory) check_place("out_of_memory.tag", r.oom.tag, spec);
        if (r.has_timeline) {
            replay(r, spec);
        } else {
            if (!r.events.empty() || !r.spans.empty()) fail("events", "present in a report without a timeline");
            check_peaks(r);
        }
    } catch (const Contradiction& c) {
        return Status::failure(c.message);
    }
    return Status::success();
}

}  // namespace ckpt
