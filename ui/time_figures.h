// How the window words and compares times, in one place: a measured time is the median of the
// step's timed repeats and is shown with its spread ("5.20 ms ±3 %, median of 5"); two times are
// a finding only when they differ by more than their spreads; a step whose repeats spread past
// a threshold says the machine was too busy to time it. Also where the throughput calibration
// is cached (the desktop's cache folder), and a column of times in one unit.
#pragma once

#include <QString>

#include "ckpt/report.h"
#include "ckpt/timing.h"

namespace ckptui {

// Over this relative spread (half the quartiles' range over the median) the repeats disagree too
// much for a time to be compared: the machine was too busy.
constexpr double kBusySpread = 0.15;

// Where the measured throughputs are kept: the desktop's cache folder when the application has an
// organisation name (as QSettings), else nowhere (tests: the process keeps them).
QString throughputCachePath();
// The throughput of `device` with `threads`, from this process, the cache or measured now.
ckpt::Result<ckpt::Throughput> throughputFor(const QString& device, int threads);

// "±3 %" for a time measured over several repeats, "" for one sample.
QString spreadText(qint64 medianNs, const ckpt::TimeRange& range, int repeats);
// "5.20 ms ±3 %" (or "5.20 ms" for one sample).
QString timedText(qint64 medianNs, const ckpt::TimeRange& range, int repeats);
// "median of 5 timed repeats" or "one timed sample".
QString repeatsText(int repeats);
// The step's repeats spread over kBusySpread.
bool tooBusyToTime(const ckpt::StepReport& r);
// One line for such a step ("" otherwise).
QString busyText(const ckpt::StepReport& r);
// Whether two medians differ by no more than their spreads (half their quartile ranges added):
// such a difference is noise, not a finding. Single samples (an empty range) have no spread, and
// only equal times are within it.
bool withinNoise(qint64 a, const ckpt::TimeRange& ra, qint64 b, const ckpt::TimeRange& rb);

// A column of times in one unit: the largest value's (s, ms or µs), each value with three
// significant digits and never in exponent notation.
struct TimeUnit {
    double ns = 1e6;
    QString name = QStringLiteral("ms");
};
TimeUnit timeUnitFor(qint64 largestNs);
QString inUnit(qint64 ns, const TimeUnit& unit);

}  // namespace ckptui
