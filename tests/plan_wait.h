// Planning and the Pareto sweep run on workers: tests start them and wait for the answer.
#pragma once

#include <QSignalSpy>
#include <QString>

#include "ui/plan_panel.h"

// "" when a plan was applied, else the error (found at once or when the worker answered).
inline QString planAndWait(ckptui::PlanPanel* panel, const QString& budget, const QString& planner) {
    QSignalSpy done(panel, &ckptui::PlanPanel::planFinished);
    const QString err = panel->plan(budget, planner);
    if (!err.isEmpty()) return err;
    if (done.isEmpty() && !done.wait(120000)) return QStringLiteral("timed out waiting for the plan");
    return done.first().first().toString();
}

// true once the sweep is on the chart.
inline bool paretoAndWait(ckptui::PlanPanel* panel) {
    QSignalSpy drawn(panel, &ckptui::PlanPanel::paretoDrawn);
    panel->refreshPareto();
    return !drawn.isEmpty() || drawn.wait(120000);
}
