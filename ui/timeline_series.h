// One step's memory as the timeline draws it: for the baseline and every event after it, the x
// coordinate, the event's time and tag, and each category's running total stacked in
// kStackOrder. The timeline builds it for a step it shows; a prediction's is built on the
// predictor's worker (a 20,000-block model has 400,000 events: a quarter of a second of page
// faults and sums that the GUI thread need not do) and lent to the chart while it is drawn.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "ckpt/checked.h"
#include "ckpt/report.h"
#include "ui/style.h"

namespace ckptui {

struct TimelineSeries {
    std::vector<double> x;
    std::vector<int64_t> ns;
    std::array<std::vector<double>, ckpt::kCategoryCount> stacked;
    std::vector<ckpt::MemoryTag> tags;
    ckpt::CategoryBytes live{};  // after the last event

    // Keeps the capacity: the next step of the same size allocates nothing.
    void clear() {
        x.clear();
        ns.clear();
        tags.clear();
        for (auto& s : stacked) s.clear();
        live = {};
    }
    void reserve(size_t n) {
        x.reserve(n);
        ns.reserve(n);
        tags.reserve(n);
        for (auto& s : stacked) s.reserve(n);
    }
    void add(const ckpt::MemoryEvent& e, double at) {
        // Saturating (checked.h): an opened report whose sums leave int64 was refused; a live
        // step's are far from it.
        live[int(e.tag.category)] = ckpt::saturating_add(live[int(e.tag.category)], e.bytes);
        x.push_back(at);
        ns.push_back(e.time_ns);
        tags.push_back(e.tag);
        double sum = 0;
        for (int k = 0; k < ckpt::kCategoryCount; ++k) {
            sum += double(live[int(kStackOrder[k])]);
            stacked[size_t(k)].push_back(sum);
        }
    }
    // From the baseline: the events in order (x = 1, 2, ...: a prediction, no time measured) or
    // at their times in milliseconds.
    void fill(const ckpt::StepReport& r, bool inEventOrder) {
        clear();
        reserve(r.events.size() + 1);
        live = r.baseline;
        add({0, 0, {}, ckpt::total(r.baseline)}, 0.0);
        for (size_t i = 0; i < r.events.size(); ++i)
            add(r.events[i], inEventOrder ? double(i + 1) : double(r.events[i].time_ns) / 1e6);
    }
};

}  // namespace ckptui
