// Session: a model's parameters, optimizer state and tracking allocator on one device, plus
// the dry-run prediction that guards creation ("does this fit at all?") and supplies each
// block's unchecked kept bytes, against which "bytes avoided" is measured.
#include <algorithm>
#include <cstdint>
#include <string>

#include "ckpt/units.h"
#include "ckpt/session.h"
#include "ckpt/writers.h"
#include "backends/backend.h"
#include "exec/executor.h"

namespace ckpt {

struct Session::Impl {
    DeviceInfo device;
    RunSettings settings;
    Backend* backend = nullptr;
    // Declared before the executor: parameters must be freed while the allocator still exists.
    std::unique_ptr<Allocator> alloc;
    std::unique_ptr<Executor> exec;
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() {
    if (!impl_) return;
    impl_->exec.reset();
    impl_->backend->trim();  // a closed session's sizes are unlikely to be asked for again
}

namespace {

// Runs `steps` dry steps and returns the report with the highest peak, or an error.
Result<StepReport> dry_run(const ModelSpec& spec, int steps, DeviceKind kind, std::vector<int64_t>* kept = nullptr,
                           const std::atomic<bool>* stop = nullptr) {
    Allocator alloc(dry_backend(kind), 0);
    Executor exec(spec, alloc);
    StepReport worst;
    StepOptions opts;
    opts.record_events = false;
    opts.stop = stop;
    for (int s = 0; s < steps; ++s) {
        StepReport r = exec.step(opts);
        if (r.status != StepStatus::ok) return Error{r.message, error_kind(r.status)};
        if (s == 0 || r.peak_total > worst.peak_total) worst = std::move(r);
    }
    if (kept) {
        kept->clear();
        for (const BlockReport& b : worst.blocks) kept->push_back(b.kept_bytes);
    }
    return worst;
}

ModelSpec unchecked(ModelSpec spec) {
    for (BlockSpec& b : spec.blocks) b.checkpoint = false;
    return spec;
}

}  // namespace

Result<std::unique_ptr<Session>> Session::create(const ModelSpec& spec, const RunSettings& settings) {
    if (Status st = validate_model_spec(spec); !st) return *st.err;
    Result<DeviceInfo> dev = find_device(settings.device);
    if (!dev) return dev.error();
    if (settings.memory_limit < 0) return Error{"memory limit: must not be negative"};
    if (settings.repeats < 0 || settings.repeats > kMaxRepeats)
        return Error{"repeats: expected 0 (the device's default) to " + std::to_string(kMaxRepeats) + ", got " +
                     std::to_string(settings.repeats)};

    Result<Backend*> backend = settings.dry_run ? Result<Backend*>(&dry_backend(dev->kind)) : backend_for(settings.device);
    if (!backend) return backend.error();
    auto impl = std::make_unique<Impl>();
    impl->device = *dev;
    impl->settings = settings;
    impl->backend = *backend;
    Backend& be = **backend;
    be.set_threads(settings.threads);
    be.set_tf32(settings.tf32);

    // Two dry steps (the second has the optimizer state of the first) give the step's peak
    // before a byte is allocated: a model that cannot fit is refused here, not half-way.
    std::vector<int64_t> kept_unchecked;
    Result<StepReport> unchecked_run = dry_run(unchecked(spec), 1, dev->kind, &kept_unchecked);
    if (!unchecked_run) return unchecked_run.error();
    if (!settings.dry_run) {
        Result<StepReport> predicted = dry_run(spec, 2, dev->kind);
        if (!predicted) return predicted.error();
        const int64_t need = predicted->peak_total;
        if (need > dev->total_bytes)
            return Error{"model too large for " + dev->id() + ": a step needs " + format_bytes(need) +
                         " at peak (parameters " + format_bytes(predicted->at_peak[int(Category::parameter)]) +
                         ") but the device has " + format_bytes(dev->total_bytes), ErrorKind::out_of_memory};
    }

    impl->alloc = std::make_unique<Allocator>(be, settings.memory_limit);
    try {
        impl->exec = std::make_unique<Executor>(spec, *impl->alloc);
    } catch (const OutOfMemoryError& e) {
        if (e.info.limit <= 0)  // no limit set: the system refused
            return Error{"out of memory while allocating parameters: the system refused " +
                         format_bytes(e.info.requested), ErrorKind::out_of_memory};
        return Error{"out of memory while allocating parameters: asked for " + format_bytes(e.info.requested) +
                     " with " + format_bytes(e.info.free_bytes) + " free under the limit of " +
                     format_bytes(e.info.limit), ErrorKind::out_of_memory};
    } catch (const std::bad_alloc&) {
        return Error{"out of memory while allocating parameters", ErrorKind::out_of_memory};
    }
    impl->exec->kept_unchecked = kept_unchecked;
    return std::unique_ptr<Session>(new Session(std::move(impl)));
}

StepReport Session::step(const StepOptions& options) {
    const int asked = options.repeats > 0 ? options.repeats : impl_->settings.repeats;
    return impl_->exec->step_repeated(options, asked > 0 ? std::min(asked, kMaxRepeats) : default_repeats(impl_->device.kind));
}

std::vector<NamedTensor> Session::tensors() { return impl_->exec->initial_tensors(); }

void Session::recycle(StepReport&& done) { impl_->exec->recycle(std::move(done)); }

Status Session::set_checkpoint(const std::vector<bool>& checkpoint) {
    ModelSpec& spec = impl_->exec->spec();
    if (checkpoint.size() != spec.blocks.size())
        return Status::failure("checkpoint: expected " + std::to_string(spec.blocks.size()) + " flags, got " +
                               std::to_string(checkpoint.size()));
    apply_checkpoint_set(spec, checkpoint);
    return Status::success();
}

Status Session::set_checkpoint(const CheckpointSet& set) {
    ModelSpec& spec = impl_->exec->spec();
    if (set.checkpoint.size() != spec.blocks.size())
        return Status::failure("checkpoint: expected " + std::to_string(spec.blocks.size()) + " flags, got " +
                               std::to_string(set.checkpoint.size()));
    if (std::string bad = check_segments(set.segments, int(spec.blocks.size())); !bad.empty()) return Status::failure(bad);
    apply_checkpoint(spec, set);
    return Status::success();
}

void Session::set_preserve_rng(bool on) { impl_->exec->spec().preserve_rng = on; }
const ModelSpec& Session::spec() const { return impl_->exec->spec(); }
const DeviceInfo& Session::device() const { return impl_->device; }
CategoryBytes Session::live_bytes() const { return impl_->alloc->live(); }

int64_t Session::parameter_count() const {
    int64_t n = 0;
    for (const Param* p : impl_->exec->params()) n += p->value.numel();
    return n;
}

Result<StepReport> predict(const ModelSpec& spec, int steps, DeviceKind kind, const std::atomic<bool>* stop) {
    if (Status st = validate_model_spec(spec); !st) return *st.err;
    if (steps < 1) return Error{"steps: must be at least 1"};
    std::vector<int64_t> kept_unchecked;
    Result<StepReport> base = dry_run(unchecked(spec), 1, kind, &kept_unchecked, stop);
    if (!base) return base.error();
    Allocator alloc(dry_backend(kind), 0);
    Executor exec(spec, alloc);
    exec.kept_unchecked = kept_unchecked;
    StepOptions opts;
    opts.stop = stop;
    StepReport r;
    for (int s = 0; s < steps; ++s) r = exec.step(opts);
    if (r.status != StepStatus::ok) return Error{r.message, error_kind(r.status)};
    return r;
}

}  // namespace ckpt
