// The numbers beside the charts. On top, the prediction for the stack on screen, with what
// checkpointing changes there (the peak without it, with every block checkpointed, the lowest
// any plan reaches), so the trade-off shows before anything runs. Then the last step: peak per
// category measured beside the prediction of that same step, time by phase, what checkpointing
// saved against the unchecked twin, the recomputation overhead, whether gradients agree bit for
// bit. A step of a stack that has since been edited is marked as such and compared with nothing
// but its own prediction. The step's precision, and for fp16 its loss scale and the steps skipped
// because gradients overflowed; a GPU's reserved memory; a step opened from a report says so. And
// the help text ("What am I looking at?") with the run's own numbers.
#pragma once

#include <QTextBrowser>

#include "ckpt/report.h"
#include "ui/predictor.h"
#include "ui/run_controller.h"

namespace ckptui {

class SummaryPanel : public QTextBrowser {
    Q_OBJECT

public:
    explicit SummaryPanel(QWidget* parent = nullptr);
    // The prediction of the stack on screen (null while none), or why it cannot run.
    void setPrediction(const Prediction* prediction, const QString& specError);
    // The last complete (or failed) step; `current`: it ran the stack now on screen.
    void setResult(const StepResult& r, bool current);
    void setCurrent(bool current);
    // A line above everything else (a stopped step, an out-of-memory); "" removes it.
    void setBanner(const QString& text, bool alarm);
    bool hasAlarm() const { return !banner_.isEmpty() && alarm_; }
    // The device's memory limit (0: none): a prediction over it is flagged before any run.
    void setMemoryLimit(qint64 bytes);
    QString text() const { return toPlainText(); }
    // The tooltip of the words at `pos` (viewport coordinates): a figure's one-line explanation.
    QString toolTipAt(const QPoint& pos) const;

protected:
    void changeEvent(QEvent* e) override;  // a new palette: colours again
    bool event(QEvent* e) override;        // tooltips of single figures (title attributes)

private:
    QColor mutedColor() const;
    void render();
    QString predictionHtml() const;
    QString resultHtml() const;
    QString policyNotesHtml(const ckpt::ModelSpec& spec) const;

    Prediction prediction_;
    bool havePrediction_ = false;
    QString specError_;
    StepResult result_;
    bool current_ = false;
    QString banner_;
    bool alarm_ = false;
    qint64 limit_ = 0;
};

// HTML for the help panel, using `r` (may be null before the first run).
QString helpHtml(const StepResult* r);

}  // namespace ckptui
