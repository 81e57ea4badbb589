// Where a step's memory events and spans go: kept for the report and handed to a live sink.
// Their times are Clock stamps (backend.h) until the step ends. On a device whose stamps are
// known only once the device has passed them (CUDA events), the sink receives each item as
// soon as its stamp has resolved, in order, checked without waiting whenever a new item
// arrives, and the rest at the end of the step; on the CPU that is at once.
#pragma once

#include <deque>
#include <vector>

#include "backends/backend.h"
#include "ckpt/report.h"
#include "ckpt/session.h"

namespace ckpt {

class Recorder {
public:
    explicit Recorder(Clock& clock) : clock_(clock) {}

    void begin(bool keep, EventSink* sink);
    bool active() const { return keep_ || sink_; }
    int64_t stamp() { return clock_.stamp(); }
    // Inline, a step has thousands; the fields come in registers and are written straight into
    // the kept vector: a struct assembled on the stack and copied whole stalls on forwarding its
    // narrower stores to the wider loads of the copy: a quarter of recording's time in the
    // tutorial MLP's step (2.5 % of the step before, 1.8 % after).
    void memory(int64_t stamp, int64_t bytes, MemoryTag tag, int64_t live_total) {
        if (keep_) events_.emplace_back(stamp, bytes, tag, live_total);
        if (sink_) to_sink({stamp, bytes, tag, live_total});
    }
    void span(int32_t block, int32_t layer, Phase phase, int64_t start, int64_t end) {  // stamps
        if (keep_) spans_.emplace_back(block, layer, phase, start, end);
        if (sink_) span_to_sink({block, layer, phase, start, end});
    }
    // Vectors of a report its owner is done with: the next kept step records into them, so a
    // loop of steps that hands each report back allocates nothing for its events (and writes
    // them to memory the cache still holds). A smaller one (an empty report, a step that kept
    // no events) does not displace a larger spare.
    void recycle(std::vector<MemoryEvent>&& events, std::vector<Span>&& spans) {
        if (events.capacity() > spare_events_.capacity()) spare_events_ = std::move(events);
        if (spans.capacity() > spare_spans_.capacity()) spare_spans_ = std::move(spans);
    }
    // Resolves every stamp to ns since the step started and delivers what the sink has not had
    // yet; moves the kept events and spans out.
    void finish(std::vector<MemoryEvent>* events, std::vector<Span>* spans);

private:
    struct Item {
        bool is_span;
        MemoryEvent event;
        Span span;
    };
    void to_sink(const MemoryEvent& e);
    void span_to_sink(const Span& s);
    void deliver(Item& item);
    void flush(bool wait);

    Clock& clock_;
    bool keep_ = false;
    EventSink* sink_ = nullptr;
    std::vector<MemoryEvent> events_;
    std::vector<Span> spans_;
    std::vector<MemoryEvent> spare_events_;  // recycle()d
    std::vector<Span> spare_spans_;
    std::deque<Item> pending_;  // for the sink, oldest first
    size_t last_events_ = 0, last_spans_ = 0;
};

}  // namespace ckpt
