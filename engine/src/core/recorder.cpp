// The step's event recorder (recorder.h).
#include "core/recorder.h"

namespace ckpt {

void Recorder::begin(bool keep, EventSink* sink) {
    keep_ = keep;
    sink_ = sink;
    pending_.clear();
    // A recycled report's vectors, when larger than what is here (the last kept ones left with
    // their report, capacity and all).
    if (keep && spare_events_.capacity() > events_.capacity()) events_.swap(spare_events_);
    if (keep && spare_spans_.capacity() > spans_.capacity()) spans_.swap(spare_spans_);
    events_.clear();
    spans_.clear();
    // The last step's counts, so that recording does not grow the vectors event by event.
    if (keep) {
        events_.reserve(last_events_);
        spans_.reserve(last_spans_);
    }
}

void Recorder::deliver(Item& item) {
    if (item.is_span) {
        item.span.start_ns = clock_.elapsed_ns(item.span.start_ns);
        item.span.end_ns = clock_.elapsed_ns(item.span.end_ns);
        sink_->on_span(item.span);
    } else {
        item.event.time_ns = clock_.elapsed_ns(item.event.time_ns);
        sink_->on_memory(item.event);
    }
}

void Recorder::flush(bool wait) {
    while (!pending_.empty()) {
        Item& front = pending_.front();
        const int64_t last = front.is_span ? front.span.end_ns : front.event.time_ns;
        if (!wait && !clock_.ready(last)) return;
        deliver(front);
        pending_.pop_front();
    }
}

void Recorder::to_sink(const MemoryEvent& e) {
    pending_.push_back({false, e, {}});
    flush(false);
}

void Recorder::span_to_sink(const Span& s) {
    pending_.push_back({true, {}, s});
    flush(false);
}

void Recorder::finish(std::vector<MemoryEvent>* events, std::vector<Span>* spans) {
    if (sink_) flush(true);
    if (!clock_.stamps_in_ns()) {
        for (MemoryEvent& e : events_) e.time_ns = clock_.elapsed_ns(e.time_ns);
        for (Span& s : spans_) {
            s.start_ns = clock_.elapsed_ns(s.start_ns);
            s.end_ns = clock_.elapsed_ns(s.end_ns);
        }
    }
    if (keep_) {
        last_events_ = events_.size();
        last_spans_ = spans_.size();
    }
    if (events) *events = std::move(events_);
    if (spans) *spans = std::move(spans_);
    events_.clear();
    spans_.clear();
    keep_ = false;
    sink_ = nullptr;
}

}  // namespace ckpt
