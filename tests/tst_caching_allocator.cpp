// The CUDA backend's caching allocator (backends/caching_allocator.h), run over host memory so
// it is checked on every machine: PyTorch's size classes; a random stress of allocations and
// frees where every live block keeps its own bytes (no overlap) and the bookkeeping holds after
// every call; a device that runs out (the cached segments are given back and the request is
// tried again); and whole training steps through the pool, where out-of-memory steps leave the
// reserved bytes exactly where they were.
#include <QtTest>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>

#include "backends/backend.h"
#include "backends/caching_allocator.h"
#include "ckpt/session.h"
#include "core/allocator.h"
#include "exec/executor.h"
#include "test_models.h"

using namespace ckpt;

namespace {

// A device of `capacity` bytes made of host memory.
struct FakeDevice {
    int64_t capacity = int64_t(1) << 40;
    int64_t used = 0;
    int64_t mallocs = 0;
    std::map<void*, size_t> live;

    static void* alloc(size_t bytes, void* ctx) {
        auto* d = static_cast<FakeDevice*>(ctx);
        if (d->used + int64_t(bytes) > d->capacity) return nullptr;
        void* p = std::aligned_alloc(512, bytes);
        if (!p) return nullptr;
        d->used += int64_t(bytes);
        ++d->mallocs;
        d->live[p] = bytes;
        return p;
    }
    static void free(void* p, void* ctx) {
        auto* d = static_cast<FakeDevice*>(ctx);
        d->used -= int64_t(d->live.at(p));
        d->live.erase(p);
        std::free(p);
    }
    Heap heap() { return Heap{&FakeDevice::alloc, &FakeDevice::free, this}; }
};

// The CPU's kernels over memory from a caching allocator: the CUDA backend's memory behaviour
// with arithmetic that runs here.
class PooledCpu final : public Backend {
public:
    explicit PooledCpu(FakeDevice& dev) : pool(dev.heap()) {}
    CachingAllocator pool;
    Backend& cpu = cpu_backend();

    std::string name() const override { return "pooled cpu"; }
    DeviceKind kind() const override { return DeviceKind::cpu; }
    Clock& clock() override { return cpu.clock(); }
    void* allocate(size_t bytes) override { return pool.allocate(bytes); }
    void release(void* p, size_t) override { pool.release(p); }
    void to_host(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
    void from_host(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
    void trim() override { pool.trim(); }
    DeviceMemory memory() const override {
        DeviceMemory m;
        m.reserved = pool.reserved();
        m.reserved_peak = pool.reserved_peak();
        return m;
    }
    void reset_peak() override { pool.reset_peak(); }
    Digest digest(const float* x, int64_t n) override { return cpu.digest(x, n); }
#define FWD(name, params, args) \
    void name params override { cpu.name args; }
    FWD(gemm_ex, (bool a, bool b, int64_t M, int64_t N, int64_t K, float al, const void* A, int64_t la, const void* B,
                  int64_t lb, float be, void* C, int64_t lc, ElemType ab, ElemType c),
        (a, b, M, N, K, al, A, la, B, lb, be, C, lc, ab, c))
    FWD(cast, (const void* x, ElemType f, void* y, ElemType t, int64_t n), (x, f, y, t, n))
    FWD(fill, (float* x, int64_t n, float v), (x, n, v))
    FWD(fill_uniform, (float* x, int64_t n, float lo, float hi, uint64_t s, uint64_t st), (x, n, lo, hi, s, st))
    FWD(fill_normal, (float* x, int64_t n, float sd, uint64_t s, uint64_t st), (x, n, sd, s, st))
    FWD(fill_classes, (int64_t* t, int64_t n, int64_t c, uint64_t s, uint64_t st), (t, n, c, s, st))
    FWD(broadcast_rows, (void* y, const void* b, int64_t r, int64_t c, ElemType t), (y, b, r, c, t))
    FWD(column_sum, (float* o, const void* x, int64_t r, int64_t c, ElemType t), (o, x, r, c, t))
    FWD(activation_forward, (Act a, ElemType t, const void* x, void* y, int64_t n), (a, t, x, y, n))
    FWD(activation_backward, (Act a, ElemType t, const void* s, const void* dy, void* dx, int64_t n), (a, t, s, dy, dx, n))
    FWD(add, (const void* a, ElemType ta, const void* b, ElemType tb, void* y, ElemType ty, int64_t n),
        (a, ta, b, tb, y, ty, n))
    FWD(layernorm_forward, (const float* x, const float* g, const float* b, float* y, float* m, float* r, int64_t R,
                            int64_t C, float e), (x, g, b, y, m, r, R, C, e))
    FWD(layernorm_backward, (const float* x, const float* g, const float* m, const float* r, const float* dy, float* dx,
                             float* dg, float* db, int64_t R, int64_t C), (x, g, m, r, dy, dx, dg, db, R, C))
    FWD(dropout_forward, (ElemType t, const void* x, void* y, uint8_t* m, int64_t n, float p, uint64_t s, uint64_t st),
        (t, x, y, m, n, p, s, st))
    FWD(dropout_backward, (ElemType t, const void* dy, const uint8_t* m, void* dx, int64_t n, float p), (t, dy, m, dx, n, p))
    FWD(dropout_mask, (uint8_t* m, int64_t n, float p, uint64_t seed, uint64_t s), (m, n, p, seed, s))
    FWD(mse_backward, (const float* p, const float* t, float* d, int64_t n), (p, t, d, n))
    FWD(softmax_xent_backward, (const float* p, const int64_t* t, float* d, int64_t r, int64_t c), (p, t, d, r, c))
    FWD(embedding_forward, (const int64_t* t, const float* tab, const float* pos, float* o, int64_t r, int64_t s,
                            int64_t d), (t, tab, pos, o, r, s, d))
    FWD(embedding_backward, (const int64_t* t, const float* dout, float* dt, float* dp, int64_t r, int64_t s,
                             int64_t v, int64_t d), (t, dout, dt, dp, r, s, v, d))
    FWD(attention_forward, (ElemType t, const AttentionShape& a, const void* q, void* o, float* p, uint8_t* m, void* sc,
                            uint64_t s, uint64_t st), (t, a, q, o, p, m, sc, s, st))
    FWD(attention_backward, (ElemType t, const AttentionShape& a, const void* q, const float* p, const uint8_t* m,
                             const void* dout, void* dq, void* sc), (t, a, q, p, m, dout, dq, sc))
    FWD(flash_attention_forward, (ElemType t, const AttentionShape& a, const void* q, void* o, float* l, void* sc,
                                  uint64_t s, uint64_t st), (t, a, q, o, l, sc, s, st))
    FWD(flash_attention_backward, (ElemType t, const AttentionShape& a, const void* q, const void* o, const float* l,
                                   const void* dout, void* dq, void* sc, uint64_t s, uint64_t st),
        (t, a, q, o, l, dout, dq, sc, s, st))
    FWD(rmsnorm_forward, (const float* x, const float* g, float* y, float* r, int64_t R, int64_t C, float e),
        (x, g, y, r, R, C, e))
    FWD(rmsnorm_backward, (const float* x, const float* g, const float* r, const float* dy, float* dx, float* dg,
                           int64_t R, int64_t C), (x, g, r, dy, dx, dg, R, C))
    FWD(swiglu_forward, (ElemType t, const void* x, void* y, int64_t r, int64_t f), (t, x, y, r, f))
    FWD(swiglu_backward, (ElemType t, const void* x, const void* dy, void* dx, int64_t r, int64_t f), (t, x, dy, dx, r, f))
    FWD(sgd_step, (float* w, const float* g, float* b, int64_t n, float lr, float m, float wd, bool f),
        (w, g, b, n, lr, m, wd, f))
    FWD(adamw_step, (float* w, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2, float e,
                     float wd, int64_t s), (w, g, m, v, n, lr, b1, b2, e, wd, s))
    FWD(scale, (float* x, int64_t n, float s), (x, n, s))
    FWD(conv2d_forward, (ElemType t, const ConvShape& c, const void* x, const void* w, const void* b, void* y, void* sc),
        (t, c, x, w, b, y, sc))
    FWD(conv2d_backward, (ElemType t, const ConvShape& c, const void* x, const void* w, const void* dy, void* dx, float* dw,
                          float* db, void* sc), (t, c, x, w, dy, dx, dw, db, sc))
    FWD(batchnorm_forward, (ElemType t, const void* x, const float* g, const float* b, void* y, float* m, float* r,
                            int64_t n, int64_t c, int64_t hw, float e, float* rm, float* rv, float mo),
        (t, x, g, b, y, m, r, n, c, hw, e, rm, rv, mo))
    FWD(batchnorm_backward, (ElemType t, const void* x, const float* g, const float* m, const float* r, const void* dy,
                             void* dx, float* dg, float* db, int64_t n, int64_t c, int64_t hw),
        (t, x, g, m, r, dy, dx, dg, db, n, c, hw))
    FWD(maxpool_forward, (ElemType t, const PoolShape& s, const void* x, void* y), (t, s, x, y))
    FWD(maxpool_backward, (ElemType t, const PoolShape& s, const void* x, const void* dy, void* dx), (t, s, x, dy, dx))
    FWD(avgpool_forward, (ElemType t, const PoolShape& s, const void* x, void* y), (t, s, x, y))
    FWD(avgpool_backward, (ElemType t, const PoolShape& s, const void* dy, void* dx), (t, s, dy, dx))
#undef FWD
    double mse_forward(const float* p, const float* t, int64_t n) override { return cpu.mse_forward(p, t, n); }
    bool all_finite(const float* x, int64_t n) override { return cpu.all_finite(x, n); }
    double softmax_xent_forward(const float* l, const int64_t* t, float* p, int64_t r, int64_t c) override {
        return cpu.softmax_xent_forward(l, t, p, r, c);
    }
};

}  // namespace

class TestCachingAllocator : public QObject {
    Q_OBJECT

private slots:
    void sizeClassesArePyTorchs() {
        QCOMPARE(CachingAllocator::round_size(1), size_t(512));
        QCOMPARE(CachingAllocator::round_size(512), size_t(512));
        QCOMPARE(CachingAllocator::round_size(513), size_t(1024));
        QCOMPARE(CachingAllocator::segment_size(512), size_t(2) << 20);        // small pool: 2 MiB
        QCOMPARE(CachingAllocator::segment_size(size_t(1) << 20), size_t(2) << 20);
        QCOMPARE(CachingAllocator::segment_size((size_t(1) << 20) + 512), size_t(20) << 20);  // under 10 MiB: 20 MiB
        QCOMPARE(CachingAllocator::segment_size(size_t(10) << 20), size_t(10) << 20);        // else 2 MiB multiples
        QCOMPARE(CachingAllocator::segment_size((size_t(10) << 20) + 512), size_t(12) << 20);
    }

    void randomStressKeepsEveryBlockItsOwn() {
        FakeDevice dev;
        {
            CachingAllocator pool(dev.heap());
            std::mt19937 rng(5);
            struct Live { void* p; size_t n; unsigned char tag; };
            std::vector<Live> live;
            for (int i = 0; i < 4000; ++i) {
                if (live.empty() || rng() % 100 < 55) {
                    // Sizes from 1 byte to 24 MiB, most of them small, as a training step's are.
                    const int kind = int(rng() % 10);
                    size_t n = kind < 6 ? 1 + rng() % 8192 : kind < 9 ? 1 + rng() % (3 << 20) : 1 + rng() % (24 << 20);
                    void* p = pool.allocate(n);
                    QVERIFY(p);
                    QCOMPARE(reinterpret_cast<uintptr_t>(p) % 512, uintptr_t(0));
                    const unsigned char tag = static_cast<unsigned char>(rng());
                    std::memset(p, tag, n);
                    live.push_back({p, n, tag});
                } else {
                    const size_t k = rng() % live.size();
                    const Live l = live[k];
                    const auto* b = static_cast<const unsigned char*>(l.p);
                    for (size_t j = 0; j < l.n; j += 97) QCOMPARE(b[j], l.tag);  // nobody else wrote here
                    QCOMPARE(b[l.n - 1], l.tag);
                    pool.release(l.p);
                    live.erase(live.begin() + long(k));
                }
                if (i % 50 == 0) pool.trim();
                const std::string bad = pool.check();
                QVERIFY2(bad.empty(), bad.c_str());
                QCOMPARE(pool.reserved(), dev.used);
            }
            for (const Live& l : live) pool.release(l.p);
            QCOMPARE(pool.live_blocks(), int64_t(0));
            pool.trim();
            QCOMPARE(pool.reserved(), int64_t(0));
            QCOMPARE(pool.segments(), int64_t(0));
        }
        QCOMPARE(dev.used, int64_t(0));
    }

    void aFullDeviceGivesCachedSegmentsBack() {
        FakeDevice dev;
        dev.capacity = int64_t(100) << 20;
        CachingAllocator pool(dev.heap());
        std::vector<void*> held;
        for (int i = 0; i < 4; ++i) held.push_back(pool.allocate(size_t(20) << 20));  // 4 x 20 MiB segments
        for (void* p : held) pool.release(p);                                          // cached, not returned
        QCOMPARE(dev.used, int64_t(80) << 20);
        void* big = pool.allocate(size_t(60) << 20);  // does not fit beside the cache: the cache goes
        QVERIFY(big);
        QCOMPARE(dev.used, int64_t(60) << 20);
        QVERIFY(!pool.allocate(size_t(60) << 20));  // truly out of memory: nullptr, nothing broken
        QVERIFY(pool.check().empty());
        pool.release(big);
        pool.trim();
        QCOMPARE(dev.used, int64_t(0));
    }

    void outOfMemoryStepsLeaveReservedWhereItWas() {
        // A small GPT through the pool, under a limit its step cannot meet: every step fails the
        // same way, and after each (the executor trims) the pool holds exactly what it held.
        FakeDevice dev;
        PooledCpu be(dev);
        const ModelSpec spec = testmodels::gpt(500, 64, 4, 2, 2, 16, 0.1);
        const Result<StepReport> need = predict(spec, 1);
        QVERIFY(need.ok());
        Allocator alloc(be, need->peak_total * 3 / 4);
        Executor exec(spec, alloc);
        const int64_t after_create = be.pool.reserved();
        for (int i = 0; i < 20; ++i) {
            const StepReport r = exec.step({});
            QCOMPARE(r.status, StepStatus::out_of_memory);
            QCOMPARE(be.pool.live_blocks(), int64_t(exec.params().size()));
            const std::string bad = be.pool.check();
            QVERIFY2(bad.empty(), bad.c_str());
            QCOMPARE(be.pool.reserved(), after_create);
        }
        // Without the limit the same executor trains, and the pool keeps its cache.
        Allocator free_alloc(be, 0);
        Executor ok(spec, free_alloc);
        QCOMPARE(ok.step({}).status, StepStatus::ok);
        QVERIFY(be.pool.check().empty());
    }
};

QTEST_GUILESS_MAIN(TestCachingAllocator)
#include "tst_caching_allocator.moc"
