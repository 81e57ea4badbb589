// Replot speed of the memory timeline with 1,000,000 memory events (QBENCHMARK; not a CTest
// test). The events are the engine's own: a dry run (no allocation, no arithmetic) of a stack
// deep enough to produce a million allocations and frees. Each iteration pans the view, so the
// chart re-decimates (one point per pixel column, keeping maxima) and repaints.
//   QT_QPA_PLATFORM=offscreen bench_timeline_replot
#include <QtTest>

#include "ckpt/session.h"
#include "ui/timeline_chart.h"

class BenchTimelineReplot : public QObject {
    Q_OBJECT

private slots:
    void replotMillionEvents() {
        ckpt::ModelSpec s;
        s.name = "bench";
        s.input_shape = {64, 256};
        s.loss = ckpt::LossType::mse;
        s.optimizer.type = ckpt::OptimizerType::none;
        ckpt::LayerSpec lin, relu;
        lin.type = ckpt::LayerType::linear;
        lin.in = lin.out = 256;
        relu.type = ckpt::LayerType::relu;
        for (int b = 0; b < 50000; ++b) s.blocks.push_back({"b", {lin, relu}, false, b % 2 == 0});
        auto r = ckpt::predict(s);
        QVERIFY2(r, r ? "" : r.error().message.c_str());
        while (r->events.size() < 1000000) {  // top up with a second step's events, shifted in time
            const size_t n = r->events.size();
            const int64_t t = r->events.back().time_ns;
            for (size_t i = 0; i < n && r->events.size() < 1000000; ++i) {
                ckpt::MemoryEvent e = r->events[i];
                e.time_ns += t;
                r->events.push_back(e);
            }
            r->step_ns = r->events.back().time_ns;
        }
        qInfo("events: %zu", r->events.size());
        ckptui::TimelineChart chart;
        chart.resize(1600, 900);
        chart.show();
        chart.setReport(*r);
        chart.replot();
        QCOMPARE(chart.pointCount(), 1000001);
        QVERIFY(chart.drawnPoints() < 5000);
        const double span = chart.xAxis->range().size();
        QElapsedTimer t;
        t.start();
        for (int k = 0; k < 5; ++k) chart.xAxis->setRange(span * 0.001 * k, span * (1.0 + 0.001 * k));
        const double decimate = t.nsecsElapsed() / 5e6;
        t.restart();
        for (int k = 0; k < 5; ++k) chart.replot();
        qInfo("of which: re-decimation %.1f ms, drawing %.1f ms", decimate, t.nsecsElapsed() / 5e6);
        int i = 0;
        QBENCHMARK {
            chart.xAxis->setRange(span * 0.001 * (i % 7), span * (1.0 + 0.001 * (i % 7)));
            chart.replot();
            ++i;
        }
    }
};

QTEST_MAIN(BenchTimelineReplot)
#include "bench_timeline_replot.moc"
