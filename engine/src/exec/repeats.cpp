// Timed repeats of one training step. On a shared machine a single step's time can vary
// several-fold, so a step is timed k times and its figures are the medians, with quartiles for
// the spread. What a repeat measures must be the same step each time: before the first repeat
// the state a step changes (parameters, optimizer state, buffers such as batch norm's running
// statistics, the step counter that seeds the dropout masks and AdamW's bias correction, the
// fp16 loss scale) is copied to the host, and put back before each later repeat. The repeats
// then compute bitwise the same gradients and allocate exactly the same memory; after the last
// one the session is one step further, as after a single step. The copies are made between
// repeats, outside every timed stretch.
#include <algorithm>

#include "exec/executor.h"

namespace ckpt {

int default_repeats(DeviceKind kind) { return kind == DeviceKind::cuda ? 1 : 5; }

int64_t median_of(std::vector<int64_t> samples, TimeRange* range) {
    if (samples.empty()) {
        if (range) *range = {};
        return 0;
    }
    std::sort(samples.begin(), samples.end());
    const size_t n = samples.size(), q = (n - 1) / 4;
    if (range) *range = {samples[q], samples[n - 1 - q]};
    return samples[(n - 1) / 2];
}

double StepReport::recompute_overhead(double* lo, double* hi) const {
    // Each repeat's own ratio: its recomputation against the rest of that same repeat, so that a
    // disturbance which slowed one whole repeat cancels out of it. Ratios in parts per billion,
    // to share median_of.
    auto ratio = [](int64_t rec, int64_t step) { return double(rec) / double(std::max<int64_t>(1, step - rec)); };
    std::vector<int64_t> r;
    for (const RepeatTimes& t : repeat_times) r.push_back(int64_t(ratio(t.recompute_ns, t.step_ns) * 1e9));
    if (r.empty()) r.push_back(int64_t(ratio(recompute_ns, step_ns) * 1e9));
    TimeRange q;
    const double m = double(median_of(r, &q)) / 1e9;
    if (lo) *lo = double(q.lo_ns) / 1e9;
    if (hi) *hi = double(q.hi_ns) / 1e9;
    return m;
}

void StepReport::single_sample_ranges() {
    for (BlockReport& b : blocks) {
        b.forward_range = {b.forward_ns, b.forward_ns};
        b.backward_range = {b.backward_ns, b.backward_ns};
        b.recompute_range = {b.recompute_ns, b.recompute_ns};
    }
    step_range = {step_ns, step_ns};
    forward_range = {forward_ns, forward_ns};
    loss_range = {loss_ns, loss_ns};
    backward_range = {backward_ns, backward_ns};
    recompute_range = {recompute_ns, recompute_ns};
    optimizer_range = {optimizer_ns, optimizer_ns};
}

Executor::Snapshot Executor::take_snapshot() {
    Snapshot s;
    s.step = step_;
    s.loss_scale = loss_scale_;
    s.good_steps = good_steps_;
    auto copy = [&](const Tensor& t) {
        std::vector<unsigned char> host(size_t(t.bytes()));
        if (!host.empty()) ctx_.be.to_host(host.data(), t.data(), host.size());
        s.tensors.push_back(std::move(host));
    };
    for (const Param* p : params_) {
        copy(p->value);
        for (const Tensor& st : p->state) {
            s.present.push_back(bool(st));
            if (st) copy(st);
        }
    }
    for (const Param* p : buffers_) copy(p->value);
    return s;
}

bool Executor::restore(const Snapshot& s) {
    size_t slot = 0;
    for (const Param* p : params_)
        for (const Tensor& st : p->state)
            if (bool(st) != s.present[slot++]) return false;
    size_t i = 0;
    auto put = [&](const Tensor& t) {
        const std::vector<unsigned char>& host = s.tensors[i++];
        if (!host.empty()) ctx_.be.from_host(t.data(), host.data(), host.size());
    };
    for (const Param* p : params_) {
        put(p->value);
        for (const Tensor& st : p->state)
            if (st) put(st);
    }
    for (const Param* p : buffers_) put(p->value);
    ctx_.be.synchronize();  // the next repeat's clock starts after the copies
    step_ = s.step;
    loss_scale_ = s.loss_scale;
    good_steps_ = s.good_steps;
    return true;
}

StepReport Executor::step_repeated(const StepOptions& opts, int repeats) {
    if (repeats <= 1 || !ctx_.be.computes()) return step(opts);
    const Snapshot before = take_snapshot();
    std::vector<StepReport> runs;
    runs.reserve(size_t(repeats));
    StepOptions later = opts;
    later.sink = nullptr;  // the live view follows the first repeat; the others only announce themselves
    for (int k = 0; k < repeats; ++k) {
        if (k > 0) {
            // A repeat that made optimizer state (the first step) cannot be taken back without
            // changing memory: that step is reported as timed once.
            if (!restore(before)) break;
            if (opts.sink) opts.sink->on_repeat(k + 1, repeats);
        }
        StepReport r = step(k == 0 ? opts : later);
        if (r.status != StepStatus::ok) {
            // A later repeat that failed or was stopped leaves the session where the step began
            // (step() undid its counter; its unwinding freed what it allocated): the step did
            // not happen, and the report of the failure is what the caller gets.
            if (k > 0) restore(before);
            return r;
        }
        runs.push_back(std::move(r));
    }
    const size_t n = runs.size();
    if (n == 1) return std::move(runs[0]);

    // The report of the repeat with the median step time carries the events, spans and memory
    // (equal in every repeat); every time becomes the median over the repeats.
    std::vector<int64_t> step_ns;
    for (const StepReport& r : runs) step_ns.push_back(r.step_ns);
    const int64_t median_step = median_of(step_ns);
    size_t kept = 0;
    while (runs[kept].step_ns != median_step) ++kept;
    StepReport out = std::move(runs[kept]);
    out.repeats = int(n);
    out.kept_repeat = int(kept);
    out.repeat_times.clear();
    std::vector<int64_t> f, l, b, rc, o;
    for (size_t k = 0; k < n; ++k) {
        const StepReport& r = k == kept ? out : runs[k];
        out.repeat_times.push_back({r.step_ns, r.forward_ns, r.loss_ns, r.backward_ns, r.recompute_ns, r.optimizer_ns});
        f.push_back(r.forward_ns);
        l.push_back(r.loss_ns);
        b.push_back(r.backward_ns);
        rc.push_back(r.recompute_ns);
        o.push_back(r.optimizer_ns);
    }
    out.step_ns = median_of(step_ns, &out.step_range);
    out.forward_ns = median_of(f, &out.forward_range);
    out.loss_ns = median_of(l, &out.loss_range);
    out.backward_ns = median_of(b, &out.backward_range);
    out.recompute_ns = median_of(rc, &out.recompute_range);
    out.optimizer_ns = median_of(o, &out.optimizer_range);
    for (size_t i = 0; i < out.blocks.size(); ++i) {
        std::vector<int64_t> bf, bb, br;
        for (size_t k = 0; k < n; ++k) {
            const BlockReport& blk = (k == kept ? out : runs[k]).blocks[i];
            bf.push_back(blk.forward_ns);
            bb.push_back(blk.backward_ns);
            br.push_back(blk.recompute_ns);
        }
        BlockReport& blk = out.blocks[i];
        blk.forward_ns = median_of(bf, &blk.forward_range);
        blk.backward_ns = median_of(bb, &blk.backward_range);
        blk.recompute_ns = median_of(br, &blk.recompute_range);
    }
    for (size_t k = 0; k < n; ++k)
        if (k != kept) recycle(std::move(runs[k]));
    return out;
}

}  // namespace ckpt
