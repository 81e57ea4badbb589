// Long chains of repeated blocks measured short (chain_compress.h says why and how). Here: the
// search for repeating stretches, the shortened and re-lengthened specs, and the expansion of
// a short chain's model with its checks against the executor.
#include "plan/chain_compress.h"

#include <algorithm>

namespace ckpt::chain {
namespace {

// A block as memory sees it: its name and its checkpoint flag (which the measurement sets per
// pattern) do not matter.
BlockSpec shape_of(const BlockSpec& b) {
    BlockSpec s = b;
    s.name.clear();
    s.checkpoint = false;
    return s;
}

// Index in the expanded chain of block `i` of the short one.
int64_t expanded_index(const Compression& c, const std::vector<int64_t>& extra, int i) {
    int64_t e = i;
    for (size_t s = 0; s < c.stretches.size(); ++s)
        if (c.stretches[s].rep + c.stretches[s].period <= i) e += extra[s] * c.stretches[s].period;
    return e;
}

// A tag from block `from`'s window of the short chain moved to block `to`: it names that
// block or none; anything else would not move with the window.
bool move_tag(MemoryTag& t, int64_t from, int64_t to) {
    if (t.block < 0) return true;
    if (t.block != from) return false;
    t.block = int32_t(to);
    return true;
}

bool same_tag(const MemoryTag& a, const MemoryTag& b) {
    return a.block == b.block && a.layer == b.layer && a.phase == b.phase && a.category == b.category;
}

struct Slope {
    int64_t start = 0, before_peak = 0, end = 0, optimizer_peak = 0;
};

// `m`'s levels plus, per group, its slope times the periods put back into its stretches.
void add_slopes(ChainModel& m, const Compression& c, const std::vector<Slope>& slopes, const std::vector<int64_t>& extra) {
    for (size_t s = 0; s < c.stretches.size(); ++s) {
        const Slope& d = slopes[size_t(c.stretches[s].group)];
        m.start += d.start * extra[s];
        m.before_peak += d.before_peak * extra[s];
        m.end += d.end * extra[s];
        m.optimizer_peak += d.optimizer_peak * extra[s];
    }
}

// The unchecked pattern (index 0) of `predicted` against a measured run of the same chain.
bool agrees(const ChainModel& predicted, const ChainModel& measured) {
    if (predicted.start != measured.start || predicted.before_peak != measured.before_peak ||
        predicted.end != measured.end || predicted.optimizer_peak != measured.optimizer_peak ||
        !same_tag(predicted.before_tag, measured.before_tag) || !same_tag(predicted.optimizer_tag, measured.optimizer_tag) ||
        predicted.forward.size() != measured.forward.size())
        return false;
    for (size_t b = 0; b < predicted.forward.size(); ++b) {
        const WindowEffect &pf = predicted.forward[b], &qf = measured.forward[b];
        const WindowEffect &pb = predicted.backward[b], &qb = measured.backward[b];
        if (pf.peak[0] != qf.peak[0] || pf.end[0] != qf.end[0] || pb.peak[0] != qb.peak[0] || pb.end[0] != qb.end[0] ||
            !same_tag(predicted.forward_tag[b][0], measured.forward_tag[b][0]) ||
            !same_tag(predicted.backward_tag[b][0], measured.backward_tag[b][0]))
            return false;
    }
    return true;
}

}  // namespace

std::optional<Compression> compress(const ModelSpec& spec) {
    const int n = int(spec.blocks.size());
    std::vector<BlockSpec> shape;
    shape.reserve(size_t(n));
    for (const BlockSpec& b : spec.blocks) shape.push_back(shape_of(b));
    // repeats[p][j]: how many blocks from j on equal the block p before them.
    std::vector<std::vector<int>> repeats(size_t(kMaxPeriod) + 1);
    for (int p = 1; p <= kMaxPeriod && p < n; ++p) {
        std::vector<int>& r = repeats[size_t(p)];
        r.assign(size_t(n) + 1, 0);
        for (int j = n - 1; j >= p; --j) r[size_t(j)] = shape[size_t(j)] == shape[size_t(j - p)] ? r[size_t(j) + 1] + 1 : 0;
    }
    // Greedily from the front: the stretch starting here that removes the most blocks. A stretch
    // keeps 4 periods, the representative, and at least 4 more, so the representative's
    // neighbours two blocks either way are the same as every cut-out block's.
    std::vector<std::vector<BlockSpec>> units;  // each group's period
    struct Cut {
        int period = 0;
        int64_t length = 0, removed = 0;  // blocks in the stretch, periods cut out (0: none)
        int group = 0;
    };
    std::vector<Cut> cut(static_cast<size_t>(n));  // at a stretch's start
    for (int i = 0; i < n;) {
        int best_p = 0;
        int64_t best_k = 0;
        for (int p = 1; p <= kMaxPeriod && i + p < n; ++p) {
            const int64_t length = p + repeats[size_t(p)][size_t(i + p)];
            const int64_t k = length >= 10 * p ? (length - 9 * p) / p : 0;
            if (k * p > best_k * best_p) best_p = p, best_k = k;
        }
        if (best_k == 0) {
            ++i;
            continue;
        }
        const int64_t length = best_p + repeats[size_t(best_p)][size_t(i + best_p)];
        const std::vector<BlockSpec> unit(shape.begin() + i + 4 * best_p, shape.begin() + i + 5 * best_p);
        auto g = std::find(units.begin(), units.end(), unit);
        if (g == units.end() && int(units.size()) < kMaxGroups) g = units.insert(units.end(), unit);
        if (g != units.end()) cut[size_t(i)] = {best_p, length, best_k, int(g - units.begin())};
        i += int(length);
    }
    if (units.empty()) return std::nullopt;

    Compression c;
    c.spec = spec;
    c.spec.blocks.clear();
    for (int i = 0; i < n; ++i) {
        const auto [p, length, k, group] = cut[size_t(i)];
        if (k == 0) {
            c.spec.blocks.push_back(spec.blocks[size_t(i)]);
            c.spec.blocks.back().checkpoint = false;
            continue;
        }
        Stretch s;
        s.period = p;
        s.removed = k;
        s.rep = int(c.spec.blocks.size()) + 4 * p;
        s.group = group;
        c.stretches.push_back(s);
        for (int64_t j = 0; j < length; ++j) {
            if (j >= 5 * p && j < 5 * p + k * p) continue;
            c.spec.blocks.push_back(spec.blocks[size_t(i + j)]);
            c.spec.blocks.back().checkpoint = false;
        }
        i += int(length) - 1;
    }
    c.groups = int(units.size());
    return c;
}

ModelSpec expand_spec(const Compression& c, const std::vector<int64_t>& extra) {
    ModelSpec s = c.spec;
    s.blocks.clear();
    size_t next = 0;
    for (int i = 0; i < int(c.spec.blocks.size()); ++i) {
        s.blocks.push_back(c.spec.blocks[size_t(i)]);
        if (next < c.stretches.size() && i == c.stretches[next].rep + c.stretches[next].period - 1) {
            const Stretch& st = c.stretches[next];
            for (int64_t k = 0; k < extra[next]; ++k)
                for (int q = 0; q < st.period; ++q) s.blocks.push_back(c.spec.blocks[size_t(st.rep + q)]);
            ++next;
        }
    }
    return s;
}

namespace {

// The chain model of `measured` (the dry runs of the short chain) with `extra` periods put back
// per stretch: their windows are the representative's. The levels stay as measured (the caller
// adds the slopes). Nothing when a tag would not move with its window.
std::optional<ChainModel> expand(const Compression& c, const ChainModel& measured, const std::vector<int64_t>& extra) {
    ChainModel m;
    m.start = measured.start;
    m.before_peak = measured.before_peak;
    m.end = measured.end;
    m.optimizer_peak = measured.optimizer_peak;
    m.before_tag = measured.before_tag;
    m.optimizer_tag = measured.optimizer_tag;
    for (MemoryTag* t : {&m.before_tag, &m.optimizer_tag})
        if (t->block >= 0) t->block = int32_t(expanded_index(c, extra, t->block));
    const int nc = int(c.spec.blocks.size());
    int64_t n = nc;
    for (size_t s = 0; s < c.stretches.size(); ++s) n += extra[s] * c.stretches[s].period;
    m.forward.reserve(size_t(n) + 1);
    m.backward.reserve(size_t(n) + 1);
    m.recompute.reserve(size_t(n));
    m.forward_tag.reserve(size_t(n) + 1);
    m.backward_tag.reserve(size_t(n) + 1);
    m.recompute_tag.reserve(size_t(n));
    auto push = [&](int from) {
        const int64_t to = int64_t(m.forward.size());
        WindowTags f = measured.forward_tag[size_t(from)], b = measured.backward_tag[size_t(from)];
        bool ok = true;
        for (size_t i = 0; i < size_t(kContexts); ++i) ok = ok && move_tag(f[i], from, to) && move_tag(b[i], from, to);
        m.forward.push_back(measured.forward[size_t(from)]);
        m.backward.push_back(measured.backward[size_t(from)]);
        m.forward_tag.push_back(f);
        m.backward_tag.push_back(b);
        if (size_t(from) < measured.recompute.size()) {  // not the loss
            WindowTags r = measured.recompute_tag[size_t(from)];
            for (size_t i = 0; i < size_t(kContexts); ++i) ok = ok && move_tag(r[i], from, to);
            m.recompute.push_back(measured.recompute[size_t(from)]);
            m.recompute_tag.push_back(r);
        }
        return ok;
    };
    size_t next = 0;
    for (int i = 0; i < nc; ++i) {
        if (!push(i)) return std::nullopt;
        if (next < c.stretches.size() && i == c.stretches[next].rep + c.stretches[next].period - 1) {
            const Stretch& st = c.stretches[next];
            for (int64_t k = 0; k < extra[next]; ++k)
                for (int q = 0; q < st.period; ++q)
                    if (!push(st.rep + q)) return std::nullopt;
            ++next;
        }
    }
    if (!push(nc)) return std::nullopt;  // the loss
    m.cost.assign(size_t(n), 0.0);
    m.forward_cost.assign(size_t(n), 0.0);
    return m;
}

}  // namespace

std::optional<Result<ChainModel>> build_compressed(const ModelSpec& spec, DeviceKind kind, Measure measure,
                                                   int compress_from) {
    if (int(spec.blocks.size()) < compress_from) return std::nullopt;
    std::optional<Compression> c = compress(spec);
    if (!c) return std::nullopt;
    // Any failure of the short runs falls back to measuring the whole chain, which gives the
    // answer (or the error) with no assumption.
    Result<ChainModel> base = measure(c->spec, kind, kPatterns);
    if (!base) return std::nullopt;
    const size_t ns = c->stretches.size();
    std::vector<Slope> slopes(size_t(c->groups));
    for (int g = 0; g < c->groups; ++g) {
        std::vector<int64_t> one(ns, 0), two(ns, 0);
        int64_t count = 0;
        for (size_t s = 0; s < ns; ++s)
            if (c->stretches[s].group == g) one[s] = 1, two[s] = 2, ++count;
        Result<ChainModel> m1 = measure(expand_spec(*c, one), kind, 1);
        if (!m1) return std::nullopt;
        Slope& d = slopes[size_t(g)];
        const std::pair<int64_t, int64_t*> levels[] = {{m1->start - base->start, &d.start},
                                                        {m1->before_peak - base->before_peak, &d.before_peak},
                                                        {m1->end - base->end, &d.end},
                                                        {m1->optimizer_peak - base->optimizer_peak, &d.optimizer_peak}};
        for (const auto& [diff, slope] : levels) {
            if (diff % count != 0) return std::nullopt;
            *slope = diff / count;
        }
        // The check: two periods put back, predicted from the short chain and one slope, against
        // the executor's own run of that chain.
        std::optional<ChainModel> predicted = expand(*c, *base, two);
        if (!predicted) return std::nullopt;
        std::vector<Slope> only(size_t(c->groups));
        only[size_t(g)] = d;
        add_slopes(*predicted, *c, only, two);
        Result<ChainModel> m2 = measure(expand_spec(*c, two), kind, 1);
        if (!m2 || !agrees(*predicted, *m2)) return std::nullopt;
    }
    std::vector<int64_t> removed(ns);
    for (size_t s = 0; s < ns; ++s) removed[s] = c->stretches[s].removed;
    std::optional<ChainModel> m = expand(*c, *base, removed);
    if (!m || int(m->blocks()) != int(spec.blocks.size())) return std::nullopt;
    add_slopes(*m, *c, slopes, removed);
    return Result<ChainModel>(std::move(*m));
}

}  // namespace ckpt::chain
