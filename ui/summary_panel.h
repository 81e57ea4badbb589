// The numbers beside the charts: peak memory measured and predicted per category, step time,
// recomputation overhead against the unchecked twin, whether gradients agree bit for bit. And
// the help text ("What am I looking at?") written with the current run's own numbers.
#pragma once

#include <QTextBrowser>

#include "ckpt/report.h"
#include "ui/run_controller.h"

namespace ckptui {

class SummaryPanel : public QTextBrowser {
    Q_OBJECT

public:
    explicit SummaryPanel(QWidget* parent = nullptr);
    void setPrediction(const ckpt::StepReport* predicted, const QString& specError);
    void setResult(const StepResult& r);
    QString text() const { return toPlainText(); }

private:
    void render();
    const ckpt::StepReport* predicted_ = nullptr;
    ckpt::StepReport predictedCopy_;
    bool havePrediction_ = false;
    QString specError_;
    StepResult result_;
};

// HTML for the help panel, using `r` (may be null before the first run).
QString helpHtml(const StepResult* r);

}  // namespace ckptui
