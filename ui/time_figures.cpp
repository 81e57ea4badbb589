// Words and comparisons for times (see time_figures.h).
#include "ui/time_figures.h"

#include <QCoreApplication>
#include <QDir>
#include <QStandardPaths>
#include <cmath>

#include "ui/style.h"

namespace ckptui {

QString throughputCachePath() {
    if (QCoreApplication::organizationName().isEmpty()) return {};
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation);
    return dir.isEmpty() ? QString() : QDir(dir).filePath(QStringLiteral("throughput.json"));
}

ckpt::Result<ckpt::Throughput> throughputFor(const QString& device, int threads) {
    return ckpt::cached_throughput(device.toStdString(), threads, throughputCachePath().toStdString());
}

QString spreadText(qint64 medianNs, const ckpt::TimeRange& range, int repeats) {
    if (repeats <= 1) return {};
    const double pct = 100.0 * range.relative(medianNs);
    return QStringLiteral("±%1 %").arg(pct < 10 ? QString::number(pct, 'f', 1) : QString::number(std::lround(pct)));
}

QString timedText(qint64 medianNs, const ckpt::TimeRange& range, int repeats) {
    const QString spread = spreadText(medianNs, range, repeats);
    return spread.isEmpty() ? humanTime(medianNs) : humanTime(medianNs) + QLatin1Char(' ') + spread;
}

QString repeatsText(int repeats) {
    return repeats > 1 ? QObject::tr("median of %1 timed repeats").arg(repeats) : QObject::tr("one timed sample");
}

bool tooBusyToTime(const ckpt::StepReport& r) { return r.repeats > 1 && r.step_range.relative(r.step_ns) > kBusySpread; }

QString busyText(const ckpt::StepReport& r) {
    if (!tooBusyToTime(r)) return {};
    return QObject::tr("This machine is too busy to time this step: its %1 repeats spread %2 (over ±%3 %), so "
                       "differences in time smaller than that are noise.")
        .arg(r.repeats)
        .arg(spreadText(r.step_ns, r.step_range, r.repeats))
        .arg(int(kBusySpread * 100));
}

bool withinNoise(qint64 a, const ckpt::TimeRange& ra, qint64 b, const ckpt::TimeRange& rb) {
    const double slack = 0.5 * double(ra.hi_ns - ra.lo_ns) + 0.5 * double(rb.hi_ns - rb.lo_ns);
    return std::fabs(double(a - b)) <= slack;
}

TimeUnit timeUnitFor(qint64 largestNs) {
    if (largestNs >= 1000000000) return {1e9, QStringLiteral("s")};
    if (largestNs >= 1000000) return {1e6, QStringLiteral("ms")};
    return {1e3, QStringLiteral("µs")};
}

QString inUnit(qint64 ns, const TimeUnit& unit) {
    const double v = double(ns) / unit.ns;
    if (v == 0) return QStringLiteral("0");
    const int magnitude = int(std::floor(std::log10(std::fabs(v))));
    return QString::number(v, 'f', std::clamp(2 - magnitude, 0, 4));
}

}  // namespace ckptui
