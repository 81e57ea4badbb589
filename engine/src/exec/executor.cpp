// One training step: forward, loss, backward (with recomputation of checkpointed blocks),
// optimizer. Everything a step allocates is a local Tensor or a BlockState, so an error, a
// stop or an out-of-memory unwinds and frees it all: the events always balance. Times are
// clock stamps while the step runs (on a GPU, events on the stream) and become nanoseconds
// once it is over, so timing never waits for the device.
#include "exec/executor.h"

#include <stdexcept>
#include <unordered_set>

#include "ckpt/units.h"
#include "core/philox.h"

namespace ckpt {
namespace {

NamedTensor host_copy(Backend& be, const std::string& name, const Tensor& t) {
    NamedTensor n;
    n.name = name;
    n.shape = t.shape;
    if (t.type == ElemType::i64) {
        n.type = NamedTensor::Type::i64;
        n.i64.resize(size_t(t.numel()));
        if (t.storage->data) be.to_host(n.i64.data(), t.storage->data, size_t(t.bytes()));
    } else {
        n.f32 = to_host_f32(be, t);
    }
    return n;
}

// Bytes of `category` storages among `tensors` not seen before (shared tensors count once).
int64_t count_new(const std::vector<const Tensor*>& tensors, std::unordered_set<const Storage*>& seen,
                  Category category = Category::activation) {
    int64_t bytes = 0;
    for (const Tensor* t : tensors) {
        if (!t || !*t) continue;
        const Storage* s = t->storage.get();
        if (s->tag.category != category || !seen.insert(s).second) continue;
        bytes += s->bytes;
    }
    return bytes;
}

std::vector<const Tensor*> state_tensors(const StatePtr& st) {
    return st ? st->tensors() : std::vector<const Tensor*>{};
}

}  // namespace

Executor::Executor(const ModelSpec& spec, Allocator& alloc)
    : spec_(spec),
      alloc_(alloc),
      ctx_{alloc, alloc.backend(), spec.seed},
      clock_(alloc.backend().clock()),
      recorder_(alloc.backend().clock()),
      loss_(spec.loss) {
    alloc_.set_context(-1, -1, Phase::setup);
    // Sequence parallelism only counts buffers (LayerSpec::sp_gather): it cannot compute.
    if (alloc.backend().computes())
        for (const BlockSpec& b : spec_.blocks)
            for (size_t l = 0; l < b.layer_count(); ++l)
                if (b.layer(l).sp_gather > 1 || b.layer(l).sp_scatter > 1)
                    throw std::invalid_argument("sequence parallelism is predicted, not run: it needs a dry run");
    uint64_t stream = philox::kStreamParams;
    for (size_t b = 0; b < spec_.blocks.size(); ++b) {
        auto& layers = blocks_.emplace_back();
        for (size_t l = 0; l < spec_.blocks[b].layer_count(); ++l) {
            const std::string name = "blocks." + std::to_string(b) + "." + std::to_string(l);
            layers.push_back(make_layer(spec_.blocks[b].layer(l), ctx_, name, stream));
            stream += 2;
        }
    }
    // A tied head shares the embedding's table (the validator made sure the model has one).
    for (auto& layers : blocks_)
        for (auto& layer : layers)
            if (layer->spec().tied) layer->tie(&blocks_[0][0]->params()[0]);
    for (auto& layers : blocks_)
        for (auto& layer : layers) {
            for (Param& p : layer->params()) params_.push_back(&p);
            for (Param& p : layer->buffers()) buffers_.push_back(&p);
        }
    kept_unchecked.assign(spec_.blocks.size(), 0);
    if (const DryRank* r = alloc_.dry_run() ? current_dry_rank() : nullptr) {
        // A rank of a sharded layout: per block, its parameters gathered in the dtype the matrix
        // products read (ZeRO-3) and its f32 gradients whole until the reduce-scatter (ZeRO-2
        // and 3), each tensor padded to a multiple of dp elements as its shards are.
        extras_.in_flight = r->in_flight;
        sequence_shards_ = r->sequence_shards;
        extras_.accumulating = r->accumulating;
        const int64_t compute_bytes = spec_.precision == Precision::f32 ? 4 : 2;
        auto padded = [r](int64_t numel) { return (numel + r->dp - 1) / r->dp * r->dp; };
        for (auto& layers : blocks_) {
            int64_t n = 0;
            for (auto& layer : layers) {
                for (Param& p : layer->params()) n += padded(p.value.numel());
                // A tied head computes with the embedding's table: gathered and reduced with it.
                if (layer->spec().tied) n += padded(blocks_[0][0]->params()[0].value.numel());
            }
            if (r->zero >= 3) extras_.gathered.push_back(n * compute_bytes);
            if (r->zero >= 2) extras_.reduced.push_back(n * (r->sixteen_bit_states ? 2 : 4));
        }
    }
    ctx_.seq = spec_.sequence_length();
    ctx_.compute = spec_.precision == Precision::bf16_mixed   ? ElemType::bf16
                   : spec_.precision == Precision::fp16_mixed ? ElemType::f16
                                                             : ElemType::f32;
    if (spec_.precision == Precision::fp16_mixed) loss_scale_ = 65536.0f;
}

void Executor::boundary(Window* next) {
    const int64_t live = alloc_.live_total();
    if (open_window_) {
        open_window_->peak = alloc_.window_peak();
        open_window_->peak_tag = alloc_.window_peak_tag();
        open_window_->end = live;
    }
    alloc_.open_window();
    open_window_ = next;
    if (next) *next = {live, live, live, alloc_.window_peak_tag()};
}

Executor::Path Executor::main_path(int b) const {
    return {0, spec_.blocks[size_t(b)].layers.size()};
}
Executor::Path Executor::shortcut_path(int b) const {
    const BlockSpec& bs = spec_.blocks[size_t(b)];
    return {bs.layers.size(), bs.layers.size() + bs.shortcut.size()};
}
Executor::Path Executor::post_path(int b) const {
    const BlockSpec& bs = spec_.blocks[size_t(b)];
    return {bs.layers.size() + bs.shortcut.size(), bs.layer_count()};
}

bool Executor::sum_needed(int b) const { return recomputed_sum_needed(spec_.blocks[size_t(b)], output_consumed(b)); }

bool Executor::output_needed(int b, size_t l) const {
    const BlockSpec& bs = spec_.blocks[size_t(b)];
    const auto& layers = blocks_[size_t(b)];
    if (layers[l]->rebuild_kind() == Layer::Rebuild::from_output) return true;
    // The last layer of a path feeds the residual add, or is the block's output: needed by the
    // next block of a checkpointed run, else by nothing (backward starts from dy).
    const Path p = l < main_path(b).end ? main_path(b) : l < shortcut_path(b).end ? shortcut_path(b) : post_path(b);
    if (l + 1 == p.end) return bs.residual && p.begin < post_path(b).begin ? sum_needed(b) : output_consumed(b);
    // The next layer needs this output as input if it runs again or rebuilds from its input.
    return !bs.saves(l + 1) || layers[l + 1]->rebuild_kind() == Layer::Rebuild::from_input;
}

void Executor::check_stop() const {
    if (opts_->stop && opts_->stop->load(std::memory_order_relaxed)) throw Stopped{};
}

int64_t Executor::span(int block, int layer, Phase phase, int64_t start) {
    const int64_t end = stamp();
    if (recorder_.active()) recorder_.span(block, layer, phase, start, end);
    return end;
}

namespace {

// Whether a layer that does not run again in its block's recomputation rebuilds its backward
// state there (from its input or its output; an unsaved dropout its mask from its random
// stream) rather than keeping it from forward. A saved dropout keeps its mask, so a block whose
// layers are all saved recomputes nothing.
bool rebuilt_in_recompute(const Layer& l, bool saved) {
    const Layer::Rebuild k = l.rebuild_kind();
    return k == Layer::Rebuild::from_input || k == Layer::Rebuild::from_output || (k == Layer::Rebuild::from_stream && !saved);
}

}  // namespace

Tensor Executor::forward_path(int b, Path p, Tensor h, BlockState& st, bool input_needs_grad) {
    const BlockSpec& bs = spec_.blocks[size_t(b)];
    auto& layers = blocks_[size_t(b)];
    // Layer spans cost a clock stamp each (an event on a GPU): only when someone looks. The
    // start of one and the end of the one before are the same stamp: the clocks coalesce
    // stamps with no work between them.
    const bool layer_spans = recorder_.active();
    for (size_t l = p.begin; l < p.end; ++l) {
        check_stop();
        alloc_.set_context(b, int(l), Phase::forward);
        const int64_t tl = layer_spans ? stamp() : 0;
        // A checkpointed block keeps nothing but its input, except what its policy saves: a
        // saved layer whose backward state can be rebuilt keeps only its output (when the
        // recomputation will need it), any other saved layer keeps its state and output.
        const bool saved = bs.checkpoint && bs.saves(l);
        const bool keep_state = !bs.checkpoint || (saved && !rebuilt_in_recompute(*layers[l], true));
        ctx_.input_needs_grad = l > p.begin || input_needs_grad;
        h = layers[l]->forward(ctx_, h, keep_state ? &st.state[l] : nullptr);
        if (saved && output_needed(b, l)) st.outputs[l] = ctx_.keep(h);
        if (layer_spans) span(b, int(l), Phase::forward, tl);
    }
    return h;
}

Tensor Executor::residual_add(const Tensor& a, const Tensor& h) {
    // a + h promotes as PyTorch does: f32 when either is (the residual stream stays f32).
    const ElemType ty = a.type == ElemType::f32 || h.type == ElemType::f32 ? ElemType::f32 : a.type;
    Tensor y = ctx_.make(h.shape, Category::temporary, ty);
    ctx_.be.add(a.data(), a.type, h.data(), h.type, y.data(), ty, y.numel());
    return y;
}

Tensor Executor::forward_block(int b, const Tensor& x, BlockState& st) {
    const BlockSpec& bs = spec_.blocks[size_t(b)];
    Stamps& t = block_stamps_[size_t(b)].forward;
    t.begin = stamp();
    alloc_.set_context(b, -1, Phase::forward);
    st.state.clear();
    st.state.resize(bs.layer_count());
    st.outputs.assign(bs.layer_count(), {});
    st.dropout_stream = ctx_.dropout_stream;
    // A checkpointed run keeps its first block's input; the blocks after it take theirs from the
    // recomputation of the block before.
    if (bs.checkpoint && run_first_[size_t(b)] == b) st.input = ctx_.keep(x);
    // The main path, then (ResNet's order) the shortcut from the same input, their sum, post.
    Tensor h = forward_path(b, main_path(b), x, st, b > 0);
    st.out_type = h.type;
    if (bs.residual) {
        Tensor side = forward_path(b, shortcut_path(b), x, st, b > 0);
        st.shortcut_type = side.type;
        alloc_.set_context(b, -1, Phase::forward);
        h = residual_add(side, h);
        side.reset();
        h = forward_path(b, post_path(b), std::move(h), st, true);
        st.post_type = h.type;
    }
    t.end = span(b, -1, Phase::forward, t.begin);
    return h;
}

Tensor Executor::recompute_path(int b, Path p, Tensor h, BlockState& st, const std::vector<bool>& run,
                                bool input_needs_grad) {
    const BlockSpec& bs = spec_.blocks[size_t(b)];
    auto& layers = blocks_[size_t(b)];
    const bool layer_spans = recorder_.active();
    for (size_t l = p.begin; l < p.end; ++l) {
        check_stop();
        ctx_.input_needs_grad = l > p.begin || input_needs_grad;
        if (!run[l]) {
            // Not run again: it rebuilds its state (at the random stream's place now, for a
            // dropout mask) or kept it from forward, and its random streams are then skipped so
            // that the layers after it replay theirs.
            if (rebuilt_in_recompute(*layers[l], bs.saves(l))) {
                alloc_.set_context(b, int(l), Phase::recompute);
                st.state[l] = layers[l]->rebuild(ctx_, h, st.outputs[l]);
            }
            ctx_.dropout_stream += uint64_t(layers[l]->rng_calls());
            h = bs.saves(l) ? std::move(st.outputs[l]) : Tensor{};
            continue;
        }
        alloc_.set_context(b, int(l), Phase::recompute);
        const int64_t tl = layer_spans ? stamp() : 0;
        h = layers[l]->forward(ctx_, h, &st.state[l]);
        if (layer_spans) span(b, int(l), Phase::recompute, tl);
    }
    return h;
}

Tensor Executor::backward_path(int b, Path p, Tensor g, BlockState& st, bool need_dx) {
    auto& layers = blocks_[size_t(b)];
    const bool layer_spans = recorder_.active();
    for (size_t l = p.end; l-- > p.begin;) {
        check_stop();
        alloc_.set_context(b, int(l), Phase::backward);
        const int64_t tl = layer_spans ? stamp() : 0;
        g = layers[l]->backward(ctx_, *st.state[l], g, l > p.begin || need_dx);
        st.state[l].reset();  // free what this layer kept as soon as it is used
        if (layer_spans) span(b, int(l), Phase::backward, tl);
    }
    return g;
}

Tensor Executor::recompute_block(int b, Tensor x, BlockState& st, bool consumed, StepReport& rep) {
    const BlockSpec& bs = spec_.blocks[size_t(b)];
    BlockReport& br = rep.blocks[size_t(b)];
    BlockStamps& bt = block_stamps_[size_t(b)];
    const Path main = main_path(b), side = shortcut_path(b), post = post_path(b);
    bt.recompute.begin = stamp();
    const int64_t recomputed_before = alloc_.live()[int(Category::recomputed)];
    // Each block replays its own dropout stream (the recomputation skips layers that drew).
    if (spec_.preserve_rng) ctx_.dropout_stream = st.dropout_stream;
    // Which layers run again (layer_traits.h): not the trailing ones whose state can be rebuilt
    // without running (the block's last matmul, from its input; a trailing dropout, from its
    // random stream) when their output only ever fed the next run.
    const std::vector<bool> run = recomputed_layers(bs, consumed);
    const bool sum = sum_needed(b);
    // The shortcut (or the identity, for the sum) reads the block's input again after the main
    // path; otherwise the input goes as soon as the first layer is done with it.
    Tensor h;
    if (bs.residual && (!side.empty() || sum)) h = recompute_path(b, main, x, st, run, b > 0);
    else h = recompute_path(b, main, std::move(x), st, run, b > 0);
    if (bs.residual) {
        Tensor s = side.empty() ? x : recompute_path(b, side, x, st, run, b > 0);
        x.reset();
        Tensor z;
        if (sum) {
            alloc_.set_context(b, -1, Phase::recompute);
            z = residual_add(s, h);
        }
        s.reset();
        h.reset();
        h = recompute_path(b, post, std::move(z), st, run, true);
    }
    alloc_.set_context(b, -1, Phase::recompute);
    if (!consumed) h.reset();  // the run's output is not needed again: backward starts from dy
    br.recomputed_bytes = alloc_.live()[int(Category::recomputed)] - recomputed_before;
    std::unordered_set<const Storage*> seen;
    for (size_t l = 0; l < br.layers.size(); ++l)
        br.layers[l].recomputed_bytes = count_new(state_tensors(st.state[l]), seen, Category::recomputed);
    bt.recompute.end = span(b, -1, Phase::recompute, bt.recompute.begin);
    return h;
}

void Executor::recompute_run(int first, int last, std::vector<BlockState>& states, StepReport& rep) {
    const uint64_t stream_now = ctx_.dropout_stream;
    ctx_.keep_category = Category::recomputed;
    ctx_.recomputing = true;
    // Replay the forward from the kept input, this time keeping what backward needs; each block's
    // output feeds the next block of the run.
    Tensor x = std::move(states[size_t(first)].input);
    for (int b = first; b <= last; ++b) {
        boundary(&recompute_windows[size_t(b)]);
        gather(b, -1, Phase::recompute);
        x = recompute_block(b, std::move(x), states[size_t(b)], b < last, rep);
        if (b < last) release_gathered(b, Phase::recompute);  // the last block's backward comes next
    }
    ctx_.keep_category = Category::activation;
    ctx_.recomputing = false;
    if (spec_.preserve_rng) ctx_.dropout_stream = stream_now;
}

Tensor Executor::backward_block(int b, const Tensor& dy, BlockState& st, bool need_dx) {
    const BlockSpec& bs = spec_.blocks[size_t(b)];
    BlockStamps& bt = block_stamps_[size_t(b)];
    const Path main = main_path(b), side = shortcut_path(b), post = post_path(b);
    bt.backward.begin = stamp();
    // Post's layers from the block's gradient, to the gradient of the residual sum.
    Tensor gz = post.empty() ? dy : backward_path(b, post, ctx_.cast_to(dy, st.post_type), st, true);
    // The shortcut first (autograd reaches the later-made branch first), then the main path,
    // each from the sum's gradient in the type its last layer produced (the promotion's
    // backward casts it down); their input gradients add up.
    Tensor gs;
    if (!side.empty()) gs = backward_path(b, side, ctx_.cast_to(gz, st.shortcut_type), st, need_dx);
    else if (bs.residual && need_dx) gs = gz;
    Tensor g = backward_path(b, main, ctx_.cast_to(gz, st.out_type), st, need_dx);
    gz.reset();
    if (bs.residual && need_dx) {
        alloc_.set_context(b, -1, Phase::backward);
        Tensor dx = ctx_.make(g.shape, Category::temporary, g.type);
        ctx_.be.add(gs.data(), gs.type, g.data(), g.type, dx.data(), g.type, dx.numel());
        g = std::move(dx);
    }
    bt.backward.end = span(b, -1, Phase::backward, bt.backward.begin);
    return need_dx ? g : Tensor{};
}

void Executor::hash_gradients(StepReport& rep, bool capture) {
    // Each gradient is digested where it lives; the digests combine in parameter order.
    uint64_t h64 = kFnvBasis;
    for (const Param* p : params_) {
        if (!p->grad) continue;
        const Digest d = ctx_.be.digest(p->grad.f(), p->grad.numel());
        h64 = (h64 ^ d.hash) * kFnvPrime;
        rep.gradient_sum += d.sum;
        rep.gradient_abs_sum += d.abs_sum;
        if (capture) rep.tensors.push_back(host_copy(ctx_.be, "grad." + p->name, p->grad));
    }
    rep.gradient_checksum = h64;
}

// The batch: inputs ~ N(0, 1); targets ~ N(0, 1) for MSE, uniform class ids for cross-entropy.
// It depends on the seed only, so every step trains on the same batch.
void Executor::make_batch(Tensor& x, Tensor& target) {
    const int64_t rows = spec_.rows();
    const bool tokens = spec_.token_input();
    // Under sequence parallelism a later pipeline stage takes, and an MSE target (the gradient
    // the next stage sends back) holds, this rank's split of the sequence; token ids stay whole,
    // as the cross-entropy's targets do (the vocabulary-parallel head gathers the sequence).
    std::vector<int64_t> in_shape = spec_.input_shape;  // (B, T, F) or (B, T) ids
    if (!tokens && in_shape.size() == 3) in_shape[1] /= sequence_shards_;
    x = ctx_.make(in_shape, Category::input, tokens ? ElemType::i64 : ElemType::f32);
    target = spec_.loss == LossType::cross_entropy
                 ? ctx_.make({rows}, Category::input, ElemType::i64)
                 : ctx_.make({rows / sequence_shards_, spec_.output_features()}, Category::input);
    if (tokens)
        ctx_.be.fill_classes(x.i64(), x.numel(), spec_.blocks[0].layers[0].vocab, spec_.seed, philox::kStreamInput);
    else
        ctx_.be.fill_normal(x.f(), x.numel(), 1.0f, spec_.seed, philox::kStreamInput);
    if (target.type == ElemType::i64)
        ctx_.be.fill_classes(target.i64(), rows, spec_.output_features(), spec_.seed, philox::kStreamTarget);
    else
        ctx_.be.fill_normal(target.f(), target.numel(), 1.0f, spec_.seed, philox::kStreamTarget);
}

std::vector<NamedTensor> Executor::initial_tensors() {
    std::vector<NamedTensor> out;
    for (Param* p : params_) out.push_back(host_copy(ctx_.be, p->name, p->value));
    Tensor x, target;
    make_batch(x, target);
    out.push_back(host_copy(ctx_.be, "input", x));
    out.push_back(host_copy(ctx_.be, "target", target));
    return out;
}

void Executor::run(StepReport& rep, const StepOptions& opts) {
    const int nblocks = int(blocks_.size());
    const int64_t rows = spec_.rows();
    std::vector<BlockState> states(static_cast<size_t>(nblocks));
    // A step that stopped or ran out of memory inside a recomputation left these set.
    ctx_.keep_category = Category::activation;
    ctx_.recomputing = false;
    forward_windows.assign(size_t(nblocks) + 1, {});
    recompute_windows.assign(size_t(nblocks), {});
    backward_windows.assign(size_t(nblocks) + 1, {});
    boundary(&before_window);

    if (opts.capture_tensors)
        for (Param* p : params_) rep.tensors.push_back(host_copy(ctx_.be, p->name, p->value));

    alloc_.set_context(-1, -1, Phase::forward);
    forward_stamps_.begin = stamp();
    const bool tokens = spec_.token_input();
    Tensor x, target;
    make_batch(x, target);
    if (opts.capture_tensors) {
        rep.tensors.push_back(host_copy(ctx_.be, "input", x));
        rep.tensors.push_back(host_copy(ctx_.be, "target", target));
    }
    // Views of (B, T, F) inputs as (rows, F) for the layers; an image batch stays (B, C, H, W).
    Tensor h = x;
    if (!spec_.image_input()) h.shape = {tokens ? rows : rows / sequence_shards_, tokens ? 1 : spec_.input_features()};
    ctx_.dropout_stream = philox::kStreamDropout + (uint64_t(step_) << 24);

    // Gradient accumulation: the earlier microbatches' gradients are there before this forward.
    if (extras_.accumulating)
        for (Param* p : params_)
            if (!p->grad) p->grad = ctx_.make(p->value.shape, Category::gradient);
    // A pipeline stage holds the activations of the microbatches whose backward has not come yet.
    Tensor in_flight;
    if (extras_.in_flight > 0) in_flight = ctx_.make({extras_.in_flight}, Category::activation, ElemType::u8);
    for (int b = 0; b < nblocks; ++b) {
        boundary(&forward_windows[size_t(b)]);
        gather(b, b + 1 < nblocks ? b + 1 : -1, Phase::forward);
        h = forward_block(b, h, states[size_t(b)]);
        release_gathered(b, Phase::forward);
    }
    forward_stamps_.end = stamp();

    std::unordered_set<const Storage*> seen;
    for (int b = 0; b < nblocks; ++b) {
        BlockState& st = states[size_t(b)];
        BlockReport& br = rep.blocks[size_t(b)];
        br.input_kept_bytes = count_new({&st.input}, seen);
        br.kept_bytes = br.input_kept_bytes;
        for (size_t l = 0; l < st.state.size(); ++l) {
            std::vector<const Tensor*> kept = state_tensors(st.state[l]);
            kept.push_back(&st.outputs[l]);
            br.layers[l].kept_bytes = count_new(kept, seen);
            br.kept_bytes += br.layers[l].kept_bytes;
            br.weight_cast_bytes += count_new(kept, seen, Category::weight_cast);
        }
    }

    check_stop();
    alloc_.set_context(-1, -1, Phase::loss);
    boundary(&forward_windows[size_t(nblocks)]);
    loss_stamps_.begin = stamp();
    StatePtr loss_state;
    // Sequence parallelism: a cross-entropy takes every row, so an output still split over the
    // sequence (a row-parallel last linear; the vocabulary-parallel head gathers its own) is
    // gathered whole first, and its gradient split again.
    const bool gathered_output = sequence_shards_ > 1 && spec_.loss == LossType::cross_entropy &&
                                 h.rows() * sequence_shards_ == target.numel();
    if (gathered_output) h = ctx_.all_gather_rows(h, int(sequence_shards_));
    rep.loss = loss_.forward(ctx_, h, target, &loss_state);
    rep.loss_kept_bytes = count_new(loss_state->tensors(), seen);
    if (opts.capture_tensors) rep.tensors.push_back(host_copy(ctx_.be, "output", h));
    h.reset();
    target.reset();
    loss_stamps_.end = span(-1, -1, Phase::loss, loss_stamps_.begin);

    backward_stamps_.begin = stamp();
    alloc_.set_context(-1, -1, Phase::backward);
    boundary(&backward_windows[size_t(nblocks)]);
    rep.loss_scale = loss_scale_;
    Tensor dy = loss_.backward(ctx_, *loss_state, loss_scale_);
    loss_state.reset();
    if (gathered_output) dy = ctx_.reduce_scatter_rows(dy, int(sequence_shards_));
    for (int b = nblocks; b-- > 0;) {
        // The gradient reaches the last block of a checkpointed run: recompute the whole run.
        if (run_last_[size_t(b)] == b) recompute_run(run_first_[size_t(b)], b, states, rep);
        boundary(&backward_windows[size_t(b)]);
        gather(b, b - 1, Phase::backward);
        // A sharded block's gradients are computed whole, then reduce-scattered to its shard.
        Tensor reduced;
        if (b < int(extras_.reduced.size()) && extras_.reduced[size_t(b)] > 0) {
            alloc_.set_context(b, -1, Phase::backward);
            reduced = ctx_.make({extras_.reduced[size_t(b)]}, Category::communication, ElemType::u8);
        }
        dy = backward_block(b, dy, states[size_t(b)], b > 0);
        alloc_.set_context(b, -1, Phase::backward);
        reduced.reset();
        release_gathered(b, Phase::backward);
    }
    alloc_.set_context(-1, -1, Phase::backward);
    in_flight.reset();
    boundary(&optimizer_window);
    dy.reset();
    x.reset();
    backward_stamps_.end = stamp();

    check_stop();
    alloc_.set_context(-1, -1, Phase::optimizer);
    optimizer_stamps_.begin = stamp();
    if (spec_.precision == Precision::fp16_mixed) {
        // GradScaler: gradients that overflowed skip the step and halve the scale; finite ones
        // are unscaled first.
        bool finite = true;
        for (Param* p : params_)
            if (p->grad && !ctx_.be.all_finite(p->grad.f(), p->grad.numel())) finite = false;
        if (!finite) {
            rep.step_skipped = true;
            loss_scale_ *= 0.5f;
            good_steps_ = 0;
        } else {
            for (Param* p : params_)
                if (p->grad) ctx_.be.scale(p->grad.f(), p->grad.numel(), 1.0f / loss_scale_);
            if (++good_steps_ == 2000) {
                loss_scale_ *= 2.0f;
                good_steps_ = 0;
            }
        }
    }
    if (!rep.step_skipped) optimizer_step(ctx_, spec_.optimizer, params_, step_);
    optimizer_stamps_.end = stamp();
    // Outside the timings: the checksum and the dump read the gradients before they go.
    if (ctx_.be.computes() && (opts.checksum || opts.capture_tensors)) {
        const int64_t t_hash = stamp();
        hash_gradients(rep, opts.capture_tensors);
        // Buffers as the step left them (batch norm's running statistics, moved once).
        if (opts.capture_tensors)
            for (const Param* p : buffers_) rep.tensors.push_back(host_copy(ctx_.be, "buffer." + p->name, p->value));
        clock_.exclude(t_hash, stamp());
    }
    for (Param* p : params_) p->grad.reset();  // zero_grad(set_to_none=True)
    boundary(nullptr);
    span(-1, -1, Phase::optimizer, optimizer_stamps_.begin);
}

void Executor::gather(int b, int prefetch, Phase phase) {
    if (extras_.gathered.empty()) return;
    gathered_.resize(extras_.gathered.size());
    for (int u : {b, prefetch}) {
        if (u < 0 || u >= int(gathered_.size()) || gathered_[size_t(u)] || extras_.gathered[size_t(u)] == 0) continue;
        alloc_.set_context(u, -1, phase);
        gathered_[size_t(u)] = ctx_.make({extras_.gathered[size_t(u)]}, Category::communication, ElemType::u8);
    }
}

void Executor::release_gathered(int b, Phase phase) {
    if (b < 0 || b >= int(gathered_.size()) || !gathered_[size_t(b)]) return;
    alloc_.set_context(b, -1, phase);
    gathered_[size_t(b)].reset();
}

void Executor::resolve_times(StepReport& rep) {
    rep.step_ns = clock_.elapsed_ns(stamp());
    recorder_.finish(&rep.events, &rep.spans);
    rep.peak_time_ns = alloc_.peak_stamp() != 0 ? clock_.elapsed_ns(alloc_.peak_stamp()) : 0;
    rep.forward_ns = forward_stamps_.ns(clock_);
    rep.loss_ns = loss_stamps_.ns(clock_);
    rep.backward_ns = backward_stamps_.ns(clock_);
    rep.optimizer_ns = optimizer_stamps_.ns(clock_);
    rep.recompute_ns = 0;
    for (size_t b = 0; b < rep.blocks.size(); ++b) {
        const BlockStamps& t = block_stamps_[b];
        BlockReport& br = rep.blocks[b];
        br.forward_ns = t.forward.ns(clock_);
        br.recompute_ns = t.recompute.ns(clock_);
        br.backward_ns = t.backward.ns(clock_);
        rep.recompute_ns += br.recompute_ns;
    }
    rep.single_sample_ranges();  // step_repeated widens them
}

StepReport Executor::step(const StepOptions& opts) {
    ++step_;
    StepReport rep;
    rep.model_name = spec_.name;
    rep.device = ctx_.be.name();
    rep.tf32 = ctx_.be.tf32();
    rep.precision = std::string(precision_name(spec_.precision));
    rep.step = int(step_);
    rep.dry_run = !ctx_.be.computes();
    rep.preserve_rng = spec_.preserve_rng;
    for (const BlockSpec& b : spec_.blocks)
        for (size_t l = 0; l < b.layer_count(); ++l) rep.dropout_present |= b.layer(l).type == LayerType::dropout && b.layer(l).p > 0;
    rep.blocks.resize(spec_.blocks.size());
    run_first_.assign(spec_.blocks.size(), -1);
    run_last_.assign(spec_.blocks.size(), -1);
    for (const BlockRange& r : recompute_segments(spec_))
        for (int b = r.first; b <= r.last; ++b) run_first_[size_t(b)] = r.first, run_last_[size_t(b)] = r.last;
    for (size_t b = 0; b < spec_.blocks.size(); ++b) {
        rep.blocks[b].index = int(b);
        rep.blocks[b].name = spec_.blocks[b].name;
        rep.blocks[b].checkpoint = spec_.blocks[b].checkpoint;
        rep.blocks[b].segment_first = run_first_[b];
        rep.blocks[b].segment_last = run_last_[b];
        for (size_t l = 0; l < spec_.blocks[b].layer_count(); ++l) {
            LayerReport lr;
            lr.type = std::string(layer_type_name(spec_.blocks[b].layer(l).type));
            lr.saved = spec_.blocks[b].checkpoint && spec_.blocks[b].saves(l);
            rep.blocks[b].layers.push_back(lr);
        }
    }
    opts_ = &opts;
    block_stamps_.assign(spec_.blocks.size(), {});
    forward_stamps_ = loss_stamps_ = backward_stamps_ = optimizer_stamps_ = {};
    alloc_.set_context(-1, -1, Phase::forward);
    clock_.start();
    ctx_.be.reset_peak();
    recorder_.begin(opts.record_events, opts.sink);
    rep.has_timeline = opts.record_events;
    gathered_.clear();  // a step that stopped or failed left its gathered units: not this step's
    alloc_.begin_step(&recorder_);
    rep.baseline = alloc_.live();
    try {
        run(rep, opts);
    } catch (const OutOfMemoryError& e) {
        rep.status = StepStatus::out_of_memory;
        rep.oom = e.info;
        const MemoryTag& t = e.info.tag;
        const std::string where = "out of memory in " + std::string(phase_name(t.phase)) +
                                  (t.block >= 0 ? " of block " + std::to_string(t.block) : std::string()) +
                                  (t.layer >= 0 ? " layer " + std::to_string(t.layer) : std::string());
        // Human units, as everywhere a person reads bytes; the exact counts stay in rep.oom (and
        // the report's out_of_memory object).
        if (e.info.device)
            rep.message = where + ": the device refused " + format_bytes(e.info.requested) + " (" +
                          std::string(category_name(t.category)) + ") with " + format_bytes(e.info.free_bytes) +
                          " free on it";
        else
            rep.message = where + ": asked for " + format_bytes(e.info.requested) + " (" +
                          std::string(category_name(t.category)) + ") with " + format_bytes(e.info.free_bytes) +
                          " free under a limit of " + format_bytes(e.info.limit);
    } catch (const Stopped&) {
        rep.status = StepStatus::stopped;
        rep.message = "stopped by the user";
    } catch (const std::bad_alloc&) {
        rep.status = StepStatus::failed;
        rep.message = "the system refused an allocation (std::bad_alloc)";
    } catch (const DeviceError& e) {
        rep.status = StepStatus::failed;
        rep.message = std::string("device error: ") + e.what();
    }
    // Whatever happened, the step's gradients go; the unwinding above freed everything else.
    alloc_.set_context(-1, -1, Phase::optimizer);
    for (Param* p : params_) p->grad.reset();
    if (rep.status != StepStatus::ok) --step_;  // a failed step did not advance the optimizer

    for (size_t b = 0; b < rep.blocks.size() && b < kept_unchecked.size(); ++b) {
        rep.blocks[b].kept_bytes_unchecked = kept_unchecked[b];
        rep.blocks[b].avoided_bytes = kept_unchecked[b] - rep.blocks[b].kept_bytes;
    }
    try {
        resolve_times(rep);  // waits for the device: a fault there surfaces here
    } catch (const DeviceError& e) {
        rep.status = StepStatus::failed;
        rep.message = std::string("device error: ") + e.what();
    }
    rep.peak = alloc_.peak();
    rep.peak_total = alloc_.peak_total();
    rep.at_peak = alloc_.at_peak();
    rep.peak_event = alloc_.peak_event();
    rep.peak_tag = alloc_.peak_tag();
    // A failed step gives its cached blocks back, so the device is where it was before the step.
    if (rep.status == StepStatus::out_of_memory) ctx_.be.trim();
    const DeviceMemory m = ctx_.be.memory();
    rep.device_memory = {m.reserved, m.reserved_peak, m.workspace, m.context, m.total};
    alloc_.begin_step(nullptr);
    opts_ = nullptr;
    open_window_ = nullptr;
    return rep;
}

}  // namespace ckpt
