// The export dialog (see export_dialog.h).
#include "ui/export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "ui/main_window.h"

namespace ckptui {

ExportDialog::ExportDialog(const QList<NamedChart>& charts, const ExportOptions& o, const QString& path, bool all,
                           QWidget* parent)
    : QDialog(parent), charts_(charts), all_(all) {
    setWindowTitle(all ? tr("Export all charts") : tr("Export chart"));
    setObjectName(QStringLiteral("exportDialog"));
    auto* form = new QFormLayout;
    if (!all && charts.size() > 1) {
        chart_ = new QComboBox(this);
        chart_->setObjectName(QStringLiteral("exportChart"));
        for (const NamedChart& c : charts) chart_->addItem(c.first);
        chart_->setToolTip(tr("This tab has more than one chart: each is its own file."));
        form->addRow(tr("Chart"), chart_);
    }
    format_ = new QComboBox(this);
    format_->setObjectName(QStringLiteral("exportFormat"));
    format_->addItem(tr("PNG image"), QStringLiteral("png"));
    format_->addItem(tr("PDF (vector, for papers)"), QStringLiteral("pdf"));
    format_->addItem(tr("SVG (vector, for editing)"), QStringLiteral("svg"));
    form->addRow(tr("Format"), format_);
    auto spin = [this](double lo, double hi, int decimals, const QString& name) {
        auto* s = new QDoubleSpinBox(this);
        s->setRange(lo, hi);
        s->setDecimals(decimals);
        s->setObjectName(name);
        return s;
    };
    width_ = spin(0.1, 20000, 0, QStringLiteral("exportWidth"));
    height_ = spin(0.1, 20000, 0, QStringLiteral("exportHeight"));
    unit_ = new QComboBox(this);
    unit_->setObjectName(QStringLiteral("exportUnit"));
    unit_->addItem(tr("pixels"), int(ExportOptions::Unit::px));
    unit_->addItem(tr("cm"), int(ExportOptions::Unit::cm));
    unit_->addItem(tr("inches"), int(ExportOptions::Unit::in));
    auto* size = new QHBoxLayout;
    size->addWidget(width_, 1);
    size->addWidget(new QLabel(QStringLiteral("×"), this));
    size->addWidget(height_, 1);
    size->addWidget(unit_);
    form->addRow(tr("Size"), size);
    dpi_ = spin(10, 2400, 0, QStringLiteral("exportDpi"));
    dpi_->setToolTip(tr("Dots per inch: written into the file, and how large a point of text is. 120 makes 1600 pixels "
                        "a 13.3-inch slide; 300 is print quality."));
    form->addRow(tr("DPI"), dpi_);
    fontScale_ = spin(0.25, 8, 2, QStringLiteral("exportFontScale"));
    fontScale_->setSingleStep(0.1);
    fontScale_->setToolTip(tr("Text (and lines) larger or smaller than on screen. At 1.5 the smallest text is 12 pt."));
    form->addRow(tr("Font scale"), fontScale_);
    title_ = new QCheckBox(tr("the chart's title"), this);
    title_->setObjectName(QStringLiteral("exportTitle"));
    form->addRow(tr("Show"), title_);
    path_ = new QLineEdit(this);
    path_->setObjectName(QStringLiteral("exportPath"));
    auto* browse = new QPushButton(tr("Browse…"), this);
    auto* where = new QHBoxLayout;
    where->addWidget(path_, 1);
    where->addWidget(browse);
    form->addRow(all ? tr("Folder") : tr("File"), where);
    preview_ = new QLabel(this);
    preview_->setObjectName(QStringLiteral("exportPreview"));
    preview_->setMinimumSize(360, 200);
    preview_->setAlignment(Qt::AlignCenter);
    preview_->setFrameShape(QFrame::StyledPanel);
    summary_ = new QLabel(this);
    summary_->setWordWrap(true);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(all ? tr("Export all") : tr("Export"));
    auto* v = new QVBoxLayout(this);
    v->addLayout(form);
    v->addWidget(preview_, 1);
    v->addWidget(summary_);
    v->addWidget(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(browse, &QPushButton::clicked, this, &ExportDialog::browse);

    updating_ = true;
    width_->setValue(o.widthPx);
    height_->setValue(o.heightPx);
    dpi_->setValue(o.dpi);
    fontScale_->setValue(o.fontScale);
    title_->setChecked(o.title);
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (const int i = format_->findData(all ? QStringLiteral("png") : suffix); i >= 0) format_->setCurrentIndex(i);
    path_->setText(path);
    updating_ = false;

    for (QDoubleSpinBox* s : {width_, height_, dpi_, fontScale_})
        connect(s, qOverload<double>(&QDoubleSpinBox::valueChanged), this, &ExportDialog::refresh);
    connect(title_, &QCheckBox::toggled, this, &ExportDialog::refresh);
    if (chart_) connect(chart_, qOverload<int>(&QComboBox::currentIndexChanged), this, &ExportDialog::refresh);
    connect(path_, &QLineEdit::textChanged, this, &ExportDialog::refresh);
    connect(format_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        if (!all_) {
            // The file's suffix follows the format: one file, of the format shown.
            const QFileInfo fi(path_->text());
            path_->setText(fi.path() + QLatin1Char('/') + fi.completeBaseName() + QLatin1Char('.') + this->suffix());
        }
        refresh();
    });
    connect(unit_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
        // The same size in the new unit.
        const double dpi = dpi_->value();
        const int w = ExportOptions::toPixels(width_->value(), shownUnit_, dpi);
        const int h = ExportOptions::toPixels(height_->value(), shownUnit_, dpi);
        shownUnit_ = unit();
        updating_ = true;
        for (QDoubleSpinBox* s : {width_, height_}) s->setDecimals(shownUnit_ == ExportOptions::Unit::px ? 0 : 2);
        width_->setValue(ExportOptions::fromPixels(w, shownUnit_, dpi));
        height_->setValue(ExportOptions::fromPixels(h, shownUnit_, dpi));
        updating_ = false;
        refresh();
    });
    refresh();
}

ExportOptions::Unit ExportDialog::unit() const { return ExportOptions::Unit(unit_->currentData().toInt()); }

ExportOptions ExportDialog::options() const {
    ExportOptions o;
    o.dpi = dpi_->value();
    o.widthPx = ExportOptions::toPixels(width_->value(), unit(), o.dpi);
    o.heightPx = ExportOptions::toPixels(height_->value(), unit(), o.dpi);
    o.fontScale = fontScale_->value();
    o.title = title_->isChecked();
    return o;
}

QCustomPlot* ExportDialog::chart() const { return charts_.value(chart_ ? chart_->currentIndex() : 0).second; }
QString ExportDialog::path() const { return path_->text(); }
QString ExportDialog::suffix() const { return format_->currentData().toString(); }
void ExportDialog::setPath(const QString& p) { path_->setText(p); }
void ExportDialog::setFormat(const QString& s) { format_->setCurrentIndex(format_->findData(s)); }
void ExportDialog::setDpi(double dpi) { dpi_->setValue(dpi); }
void ExportDialog::setFontScale(double s) { fontScale_->setValue(s); }
void ExportDialog::setTitleShown(bool on) { title_->setChecked(on); }
QString ExportDialog::summary() const { return summary_->text(); }

void ExportDialog::setSize(double w, double h, ExportOptions::Unit u) {
    unit_->setCurrentIndex(unit_->findData(int(u)));
    width_->setValue(w);
    height_->setValue(h);
}

void ExportDialog::browse() {
    if (all_) {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Export all charts to"), path_->text());
        if (!dir.isEmpty()) path_->setText(dir);
        return;
    }
    const QString p = QFileDialog::getSaveFileName(this, tr("Export chart"), path_->text(),
                                                   tr("%1 (*.%2)").arg(format_->currentText(), suffix()));
    if (!p.isEmpty()) path_->setText(p);
}

void ExportDialog::refresh() {
    if (updating_) return;
    const ExportOptions o = options();
    QCustomPlot* plot = chart();
    if (plot) preview_->setPixmap(QPixmap::fromImage(renderPreview(plot, o, preview_->size() - QSize(8, 8))));
    const double inW = o.widthPx / o.dpi, inH = o.heightPx / o.dpi;
    QString text = tr("%1 × %2 pixels, %3 × %4 cm at %5 DPI; the smallest text is %6 pt.")
                       .arg(o.widthPx)
                       .arg(o.heightPx)
                       .arg(inW * 2.54, 0, 'f', 1)
                       .arg(inH * 2.54, 0, 'f', 1)
                       .arg(o.dpi, 0, 'f', 0)
                       .arg(plot ? smallestTextPoints(plot, o) : 0.0, 0, 'f', 1);
    if (all_) text += tr(" Writes %1 into the folder.").arg(MainWindow::chartFileNames(suffix()).join(QStringLiteral(", ")));
    summary_->setText(text);
}

}  // namespace ckptui
