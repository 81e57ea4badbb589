// Colours, labels and units shared by every chart (see style.h).
#include "ui/style.h"

#include <QLocale>
#include <QApplication>
#include <QPainter>
#include <QPointer>
#include <QProxyStyle>
#include <QStyleOption>
#include <QPixmap>

#include "ckpt/units.h"
#include "ckpt/writers.h"

namespace ckptui {

QColor categoryColor(ckpt::Category c) {
    switch (c) {  // a colour-blind-safe palette (Okabe-Ito), one hue per category
    case ckpt::Category::parameter: return QColor(0x56, 0xB4, 0xE9);
    case ckpt::Category::buffer: return QColor(0x33, 0x33, 0x33);  // Okabe-Ito's eighth, softened
    case ckpt::Category::weight_cast: return QColor(0x00, 0x72, 0xB2);
    case ckpt::Category::gradient: return QColor(0x00, 0x9E, 0x73);
    case ckpt::Category::optimizer_state: return QColor(0x99, 0x99, 0x99);
    case ckpt::Category::input: return QColor(0xF0, 0xE4, 0x42);
    case ckpt::Category::activation: return QColor(0xE6, 0x9F, 0x00);
    case ckpt::Category::recomputed: return QColor(0xD5, 0x5E, 0x00);
    case ckpt::Category::temporary: return QColor(0xCC, 0x79, 0xA7);
    case ckpt::Category::communication: return QColor(0x6A, 0x3D, 0x9A);  // outside Okabe-Ito's eight: a dark violet
    case ckpt::Category::unattributed: return QColor(0xC8, 0xC8, 0xC8);  // a neutral light grey: "not known"
    }
    return Qt::black;
}

QBrush categoryBrush(ckpt::Category c) {
    if (c != ckpt::Category::recomputed) return QBrush(categoryColor(c));
    static const QBrush hatched = [] {
        // A light vermillion ground crossed by vermillion diagonals, opaque like the other fills.
        QPixmap tile(8, 8);
        tile.fill(QColor(0xF4, 0xC2, 0xA6));
        QPainter p(&tile);
        p.setPen(QPen(categoryColor(ckpt::Category::recomputed), 1.6));
        p.setRenderHint(QPainter::Antialiasing);
        for (int k = -8; k <= 8; k += 8) {
            p.drawLine(QPointF(k, 8), QPointF(k + 8, 0));
            p.drawLine(QPointF(k, 0), QPointF(k + 8, 8));
        }
        return QBrush(tile);
    }();
    return hatched;
}

QString categoryMark(ckpt::Category c) { return c == ckpt::Category::recomputed ? QStringLiteral("▨") : QStringLiteral("■"); }

QBrush phaseBrush(ckpt::Phase p) {
    if (p == ckpt::Phase::recompute) return QBrush(QColor(0xD5, 0x5E, 0x00, 150), Qt::DiagCrossPattern);
    return QBrush(phaseColor(p));
}

QColor seriesColor(int i) {
    static const QColor colours[] = {QColor(0x00, 0x72, 0xB2), QColor(0x00, 0x9E, 0x73), QColor(0xCC, 0x79, 0xA7),
                                     QColor(0x56, 0xB4, 0xE9), QColor(0x6A, 0x3D, 0x9A), QColor(0x55, 0x55, 0x55)};
    return colours[((i % 6) + 6) % 6];
}

namespace {

class ContrastCheckStyle : public QProxyStyle {
public:
    void drawPrimitive(PrimitiveElement pe, const QStyleOption* opt, QPainter* p, const QWidget* w) const override {
        QProxyStyle::drawPrimitive(pe, opt, p, w);
        if (pe != PE_IndicatorItemViewItemCheck && pe != PE_IndicatorCheckBox) return;
        if (opt->palette.color(QPalette::Base).lightness() >= 128) return;  // a light theme draws it well
        QColor ink = opt->palette.color(QPalette::Text);
        ink.setAlphaF(0.6);
        p->save();
        p->setRenderHint(QPainter::Antialiasing, false);
        p->setPen(QPen(ink, 1));
        p->setBrush(Qt::NoBrush);
        const int side = std::min(opt->rect.width(), opt->rect.height()) - 1;
        p->drawRect(QRect(opt->rect.center() - QPoint(side / 2, side / 2), QSize(side, side)));
        p->restore();
    }
};

}  // namespace

QStyle* contrastCheckStyle() {
    // One for the application, following its style (a QProxyStyle without a base uses it).
    static QPointer<QStyle> style;
    if (!style) {
        style = new ContrastCheckStyle;
        style->setParent(qApp);
    }
    return style;
}

QColor phaseColor(ckpt::Phase p) {
    switch (p) {
    case ckpt::Phase::forward: return QColor(0x56, 0xB4, 0xE9, 40);
    case ckpt::Phase::loss: return QColor(0xF0, 0xE4, 0x42, 60);
    case ckpt::Phase::backward: return QColor(0x00, 0x9E, 0x73, 35);
    case ckpt::Phase::recompute: return QColor(0xD5, 0x5E, 0x00, 105);
    case ckpt::Phase::optimizer: return QColor(0x99, 0x99, 0x99, 50);
    case ckpt::Phase::setup: return QColor(0, 0, 0, 14);
    }
    return QColor(0, 0, 0, 0);
}

QString categoryLabel(ckpt::Category c) {
    switch (c) {
    case ckpt::Category::parameter: return QStringLiteral("parameters");
    case ckpt::Category::buffer: return QStringLiteral("buffers");
    case ckpt::Category::weight_cast: return QStringLiteral("weight casts");
    case ckpt::Category::gradient: return QStringLiteral("gradients");
    case ckpt::Category::optimizer_state: return QStringLiteral("optimizer state");
    case ckpt::Category::input: return QStringLiteral("inputs");
    case ckpt::Category::activation: return QStringLiteral("activations kept");
    case ckpt::Category::recomputed: return QStringLiteral("recomputed");
    case ckpt::Category::temporary: return QStringLiteral("temporaries");
    case ckpt::Category::communication: return QStringLiteral("communication");
    case ckpt::Category::unattributed: return QStringLiteral("unattributed");
    }
    return {};
}

QString categoryMeaning(ckpt::Category c) {
    switch (c) {
    case ckpt::Category::parameter: return QStringLiteral("The weights and biases: present for the whole run.");
    case ckpt::Category::buffer:
        return QStringLiteral("State a layer keeps between steps that is not trained: batch norm's running mean and "
                              "variance. Present for the whole run; checkpointing does not touch them.");
    case ckpt::Category::weight_cast:
        return QStringLiteral("Mixed precision: 16-bit copies of the weights made for the matrix products and kept "
                              "for backward, as PyTorch's autocast keeps them.");
    case ckpt::Category::gradient:
        return QStringLiteral("Parameter gradients: allocated as backward reaches each layer, freed after the optimizer step.");
    case ckpt::Category::optimizer_state:
        return QStringLiteral("SGD momentum or AdamW's two moments: created at the first step and kept.");
    case ckpt::Category::input: return QStringLiteral("The batch and its targets.");
    case ckpt::Category::activation:
        return QStringLiteral("Forward results kept because backward needs them. Checkpointing a block keeps only its input.");
    case ckpt::Category::recomputed:
        return QStringLiteral("Activations of a checkpointed block computed again during backward, just before they are needed.");
    case ckpt::Category::temporary:
        return QStringLiteral("Short-lived buffers: outputs nobody keeps, and the gradients flowing backward.");
    case ckpt::Category::communication:
        return QStringLiteral("Parallel layouts: a sharded block's parameters gathered to compute it (ZeRO-3, FSDP), and "
                              "its full gradients waiting to be reduce-scattered.");
    case ckpt::Category::unattributed:
        return QStringLiteral("A PyTorch snapshot's allocations whose stack frames do not say what they are for: "
                              "shown as they are rather than guessed.");
    }
    return {};
}

QString phaseLabel(ckpt::Phase p) { return QString::fromUtf8(ckpt::phase_name(p).data()); }
QString humanBytes(qint64 bytes) { return QString::fromStdString(ckpt::format_bytes(bytes)); }
QString humanTime(qint64 ns) { return QString::fromStdString(ckpt::format_duration_ns(ns)); }

QString groupedCount(qint64 n) {
    QLocale locale;
    locale.setNumberOptions(QLocale::DefaultNumberOptions);  // grouping on, whatever the default says
    QString s = locale.toString(n);
    const QString sep = locale.groupSeparator();
    if (sep == QLatin1String(".")) s.replace(sep, QString(QChar(0x202F)));
    return s;
}

qint64 parseGroupedCount(QString text, bool* ok) {
    QLocale locale;
    for (const QString& sep : {locale.groupSeparator(), QString(QChar(0x202F)), QString(QChar(0x00A0)), QStringLiteral(" "),
                               QStringLiteral(","), QStringLiteral("'")})
        if (!sep.isEmpty()) text.remove(sep);
    if (locale.groupSeparator() == QLatin1String(".")) text.remove(QLatin1Char('.'));
    return text.trimmed().toLongLong(ok);
}

}  // namespace ckptui
