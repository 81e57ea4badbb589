// Human messages (see messages.h).
#include "ui/messages.h"

#include <QObject>
#include <cmath>

#include "ckpt/printable.h"
#include "ckpt/units.h"
#include "ui/style.h"

namespace ckptui {

namespace {

QString layerName(const ckpt::MemoryTag& tag, const ckpt::ModelSpec* spec) {
    if (!spec || tag.block < 0 || size_t(tag.block) >= spec->blocks.size()) return {};
    const ckpt::BlockSpec& b = spec->blocks[size_t(tag.block)];
    if (tag.layer < 0 || size_t(tag.layer) >= b.layer_count()) return {};
    return QStringLiteral(" (%1)").arg(QString::fromUtf8(ckpt::layer_type_name(b.layer(size_t(tag.layer)).type).data()));
}

}  // namespace

QString whereText(const ckpt::MemoryTag& tag, const ckpt::ModelSpec* spec) {
    const QString phase = phaseLabel(tag.phase);
    if (tag.block < 0) return QObject::tr("outside any block, %1").arg(phase);
    QString s = QObject::tr("in block %1").arg(tag.block);
    if (tag.layer >= 0) s += QObject::tr(" layer %1").arg(tag.layer) + layerName(tag, spec);
    return s + QStringLiteral(", ") + phase;
}

QString outOfMemoryText(const ckpt::StepReport& r, const ckpt::ModelSpec& spec, int step) {
    const ckpt::OutOfMemory& o = r.oom;
    const QString what = categoryLabel(o.tag.category);
    const QString head = QObject::tr("Step %1 ran out of memory %2").arg(step).arg(whereText(o.tag, &spec));
    if (o.device)
        return QObject::tr("%1: the device refused %2 (%3) with %4 free on it.")
            .arg(head, humanBytes(o.requested), what, humanBytes(o.free_bytes));
    return QObject::tr("%1: it asked for %2 (%3) with %4 free under the %5 limit.")
        .arg(head, humanBytes(o.requested), what, humanBytes(o.free_bytes), humanBytes(o.limit));
}

QString stoppedText(const ckpt::StepReport& r, const ckpt::ModelSpec& spec, int step) {
    ckpt::MemoryTag where;
    int64_t at = 0;
    if (!r.events.empty()) {
        where = r.events.back().tag;
        at = r.events.back().time_ns;
    }
    for (const ckpt::Span& s : r.spans) at = std::max(at, s.end_ns);
    return QObject::tr("Step %1 was stopped %2, %3 into the step.").arg(step).arg(whereText(where, &spec), humanTime(at));
}

QString unfinishedText(const ckpt::StepReport& r, const ckpt::ModelSpec& spec, int step) {
    switch (r.status) {
    case ckpt::StepStatus::out_of_memory: return outOfMemoryText(r, spec, step);
    case ckpt::StepStatus::stopped: return stoppedText(r, spec, step);
    case ckpt::StepStatus::failed: return QObject::tr("Step %1 failed: %2").arg(step).arg(shownText(r.message, 400));
    case ckpt::StepStatus::ok: break;
    }
    return {};
}

QString shownText(const std::string& text, size_t maxBytes) {
    return QString::fromStdString(ckpt::printable(text, maxBytes));
}

QString modelLabel(const ckpt::ModelSpec& spec) {
    QString s = shownText(spec.name);
    if (!spec.input_shape.empty()) {
        QStringList shape;
        for (size_t i = 0; i + 1 < spec.input_shape.size(); ++i) shape << QString::number(spec.input_shape[i]);
        if (spec.token_input()) shape << QString::number(spec.input_shape.back());
        s += QObject::tr(", batch %1").arg(shape.join(QStringLiteral(" × ")));
    }
    return s;
}

QString budgetAtLeast(qint64 bytes) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        ++u;
    }
    if (u == 0) return QStringLiteral("%1B").arg(bytes);
    // Two decimals, rounded up, so the text parses back to at least `bytes`.
    const double up = std::ceil(v * 100.0 - 1e-9) / 100.0;
    return QString::number(up, 'f', 2) + QLatin1String(units[u]);
}

QString noPlanText(const ckpt::PlanTable& t, bool typedInBytes) {
    auto size = [&](qint64 b) {
        return typedInBytes ? QObject::tr("%1 bytes (%2)").arg(b).arg(humanBytes(b)) : humanBytes(b);
    };
    const QString smallest = QObject::tr("the smallest peak any checkpoint set reaches is %1").arg(size(t.minimal_peak));
    QString text;
    if (t.planner == ckpt::PlannerKind::dp || t.minimal_peak > t.budget) {
        text = QObject::tr("No plan fits in %1: %2.").arg(size(t.budget), smallest);
    } else {
        qint64 lowest = 0;
        for (const ckpt::PlanCandidate& c : t.candidates)
            if (lowest == 0 || c.plan.predicted_peak < lowest) lowest = c.plan.predicted_peak;
        text = QObject::tr("No %1 plan fits in %2 (its lowest peak is %3); %4, which the dp planner finds.")
                   .arg(QString::fromUtf8(ckpt::planner_name(t.planner).data()), size(t.budget), size(lowest), smallest);
    }
    return text + QObject::tr(" A budget of %1 or more works.").arg(budgetAtLeast(t.minimal_peak));
}

}  // namespace ckptui
