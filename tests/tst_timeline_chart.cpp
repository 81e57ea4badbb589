// The memory timeline on its own: decimation to one point per pixel column keeps every column's
// maximum, so the drawn peak equals the report's to the byte at any zoom, even with a million
// events; the live view (baseline plus event batches) draws the same data as the finished
// report; the offscreen export the CLI uses writes real PNG, PDF and SVG files; and a chart
// narrower than its title wraps the title instead of cutting off both ends.
#include <QtTest>

#include "ckpt/session.h"
#include "test_models.h"
#include "ui/chart_export.h"
#include "ui/charts.h"
#include "ui/timeline_chart.h"

using namespace ckptui;

namespace {

// A dry run (no allocation, no arithmetic) of a stack deep enough for about a million events.
ckpt::StepReport millionEvents() {
    ckpt::ModelSpec s = testmodels::deep_residual(1, 64, 128);
    const ckpt::BlockSpec b = s.blocks[0];
    s.blocks.clear();
    s.optimizer.type = ckpt::OptimizerType::none;
    for (int i = 0; i < 40000; ++i) {
        s.blocks.push_back(b);
        s.blocks.back().name = "b" + std::to_string(i);
        s.blocks.back().checkpoint = i % 3 == 0;
    }
    auto r = ckpt::predict(s);
    return r ? *r : ckpt::StepReport{};
}

// The largest live total among the raw events whose time falls in [t0, t1] (ns), plus the one
// in force at t0.
int64_t rawMax(const ckpt::StepReport& r, int64_t t0, int64_t t1) {
    int64_t best = ckpt::total(r.baseline);
    for (const ckpt::MemoryEvent& e : r.events) {
        if (e.time_ns > t1) break;
        if (e.time_ns <= t0) best = e.live_total;  // what is live when the window opens
        else best = std::max(best, e.live_total);
    }
    return best;
}

QByteArray head(const QString& path, int n) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.read(n) : QByteArray();
}

}  // namespace

class TestTimelineChart : public QObject {
    Q_OBJECT

private slots:
    void decimationKeepsThePeakAtAnyZoom() {
        const ckpt::StepReport r = millionEvents();
        QVERIFY2(r.events.size() > 900000, qPrintable(QString::number(r.events.size())));
        TimelineChart chart;
        chart.resize(1200, 700);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        chart.setReport(r);
        QCOMPARE(chart.pointCount(), int(r.events.size()) + 1);
        QCOMPARE(chart.plottedPeak(), qint64(r.peak_total));
        QCOMPARE(chart.drawnPeak(), qint64(r.peak_total));
        QVERIFY2(chart.drawnPoints() <= 2 * chart.axisRect()->width() + 2, qPrintable(QString::number(chart.drawnPoints())));

        // Zoomed windows (the axis is in the chart's time unit): the drawn maximum is the raw one.
        const double unitNs = chart.nsPerUnit();
        const double peakAt = double(r.peak_time_ns) / unitNs;
        const double span = chart.xAxis->range().size();
        for (double width : {span / 3, span / 50, span / 2000}) {
            for (double centre : {peakAt, span * 0.2, span * 0.77}) {
                chart.xAxis->setRange(centre - width / 2, centre + width / 2);
                const QCPRange v = chart.xAxis->range();
                const int64_t expected = rawMax(r, int64_t(v.lower * unitNs), int64_t(v.upper * unitNs));
                // Rounding the window's edges to nanoseconds can shift an edge event by one.
                const int64_t inner = rawMax(r, int64_t(v.lower * unitNs) + 1, int64_t(v.upper * unitNs) - 1);
                const qint64 drawn = chart.drawnPeak();
                QVERIFY2(drawn == expected || drawn == inner,
                         qPrintable(QString("window %1..%2: drawn %3, raw %4").arg(v.lower).arg(v.upper).arg(drawn).arg(expected)));
                QVERIFY(chart.drawnPoints() <= 2 * chart.axisRect()->width() + 2);
            }
        }
        chart.xAxis->setRange(peakAt - span / 1000, peakAt + span / 1000);
        QCOMPARE(chart.drawnPeak(), qint64(r.peak_total));
    }

    void liveBatchesDrawWhatTheReportDraws() {
        auto s = ckpt::Session::create(testmodels::deep_residual(4, 32, 64));
        QVERIFY(s);
        (*s)->step();
        const ckpt::CategoryBytes baseline = (*s)->live_bytes();
        const ckpt::StepReport r = (*s)->step();
        QCOMPARE(r.baseline, baseline);
        TimelineChart live, done;
        for (TimelineChart* c : {&live, &done}) c->resize(900, 500);
        live.beginLive(baseline);
        QVector<ckpt::MemoryEvent> batch;
        for (const ckpt::MemoryEvent& e : r.events) {
            batch << e;
            if (batch.size() == 17) {
                live.appendLive(batch);
                batch.clear();
            }
        }
        live.appendLive(batch);
        done.setReport(r);
        QCOMPARE(live.pointCount(), done.pointCount());
        QCOMPARE(live.plottedPeak(), qint64(r.peak_total));
        QCOMPARE(done.plottedPeak(), qint64(r.peak_total));
    }

    void exportMemoryChartWritesEachFormat() {
        auto s = ckpt::Session::create(testmodels::textbook(8, 64));
        QVERIFY(s);
        const ckpt::StepReport r = (*s)->step();
        QTemporaryDir dir;
        QCOMPARE(exportMemoryChart(r, dir.filePath("m.png"), 900, 500), QString());
        QCOMPARE(exportMemoryChart(r, dir.filePath("m.pdf"), 900, 500), QString());
        QCOMPARE(exportMemoryChart(r, dir.filePath("m.svg"), 900, 500), QString());
        QCOMPARE(head(dir.filePath("m.png"), 8), QByteArray("\x89PNG\r\n\x1a\n", 8));
        QCOMPARE(head(dir.filePath("m.pdf"), 5), QByteArray("%PDF-"));
        QVERIFY(head(dir.filePath("m.svg"), 400).contains("<svg"));
        QImage png(dir.filePath("m.png"));
        QCOMPARE(png.size(), QSize(900, 500));
        QVERIFY(!exportMemoryChart(r, dir.filePath("m.gif"), 900, 500).isEmpty());
        QVERIFY(!exportMemoryChart(r, dir.filePath("no/such/dir/m.png"), 900, 500).isEmpty());
    }

    // The Compare tab's chart beside the docks of a 1366-px window is about 380 px wide, less
    // than its title on one line: the title must fit the chart, on several lines, all of it
    // inside the space it was given.
    void titlesWrapOnNarrowCharts() {
        QCustomPlot plot;
        plot.resize(300, 400);
        setupComparison(&plot);
        plot.show();  // a hidden widget gets its size (and the chart its viewport) only when shown
        QVERIFY(QTest::qWaitForWindowExposed(&plot));
        plot.replot();
        auto* title = qobject_cast<QCPTextElement*>(plot.plotLayout()->element(0, 0));
        QVERIFY(title);
        const QFontMetrics fm(title->font());
        QVERIFY(fm.horizontalAdvance(title->text()) > plot.width());  // too long for one line
        QVERIFY2(title->outerRect().width() <= plot.viewport().width(),
                 qPrintable(QString("title %1 px wide in a %2 px chart").arg(title->outerRect().width()).arg(plot.width())));
        const QRect need = fm.boundingRect(title->rect(), Qt::AlignCenter | Qt::TextWordWrap, title->text());
        QVERIFY(need.height() >= 2 * fm.height());
        QVERIFY2(title->rect().contains(need), qPrintable(QString("text needs %1 px of height, has %2")
                                                               .arg(need.height()).arg(title->rect().height())));
    }
};

QTEST_MAIN(TestTimelineChart)
#include "tst_timeline_chart.moc"
