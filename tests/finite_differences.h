// The finite-difference check shared by the op tests (tst_ops, tst_cnn): central differences of
// the scalar objective L = sum(y * r), evaluated in double with step h = 1e-2, against the
// analytic gradient. The error is the f32 rounding of y (~1e-7 relative, divided by 2h) plus
// the O(h^2) truncation term; the tolerance |fd - analytic| <= 2e-3 + 1e-2 * |analytic| is
// about ten times the worst error seen and far below the size of any real bug (a wrong sign or
// factor is O(1)).
#pragma once

#include <QString>

#include <cmath>
#include <functional>

#include "core/allocator.h"
#include "core/tensor.h"
#include "layers/layer.h"

namespace ckpt::fd {

constexpr double kStep = 1e-2;
constexpr double kAbsTol = 2e-3;
constexpr double kRelTol = 1e-2;

// A CPU context with its own tracking allocator.
struct Fixture {
    Allocator alloc{cpu_backend(), 0};
    OpContext ctx{alloc, cpu_backend(), 42};
};

// L = sum(y * r) in double.
inline double dot(const Tensor& y, const Tensor& r) {
    double s = 0.0;
    for (int64_t i = 0; i < y.numel(); ++i) s += double(y.f()[i]) * double(r.f()[i]);
    return s;
}

// The worst violation ratio of the analytic gradient `an` of f with respect to the n values at
// `v` against central differences of f (<= 1 passes); `where` names the worst element.
inline double check(const std::function<double()>& f, float* v, const float* an, int64_t n, QString* where) {
    double worst = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const float saved = v[i];
        v[i] = float(saved + kStep);
        const double up = f();
        v[i] = float(saved - kStep);
        const double down = f();
        v[i] = saved;
        const double fd = (up - down) / (2.0 * kStep);
        const double ratio = std::fabs(fd - an[i]) / (kAbsTol + kRelTol * std::fabs(an[i]));
        if (ratio > worst) {
            worst = ratio;
            *where = QStringLiteral("element %1: finite difference %2, analytic %3").arg(i).arg(fd).arg(an[i]);
        }
    }
    return worst;
}

}  // namespace ckpt::fd
