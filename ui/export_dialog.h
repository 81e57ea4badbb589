// The one export dialog: which chart (a tab with two charts offers both, one file each), the
// format, the size in pixels, cm or inches at a DPI, a font scale, the title on or off, and a
// preview of the file as it will be; or, for Export all charts, a folder and the list of files
// it will write. The options are remembered by the window for the next export.
#pragma once

#include <QDialog>
#include <QList>
#include <QPair>

#include "ui/chart_export.h"

class QComboBox;
class QDoubleSpinBox;
class QCheckBox;
class QLabel;
class QLineEdit;

namespace ckptui {

class ExportDialog : public QDialog {
    Q_OBJECT

public:
    using NamedChart = QPair<QString, QCustomPlot*>;
    // One file of one of `charts` (suggested file name `path`), or with `allTo` a folder for all.
    ExportDialog(const QList<NamedChart>& charts, const ExportOptions& options, const QString& path, bool all,
                 QWidget* parent = nullptr);

    ExportOptions options() const;
    QCustomPlot* chart() const;
    QString path() const;     // the file, or the folder for Export all
    QString suffix() const;   // "png", "pdf", "svg"
    void setPath(const QString& path);
    void setFormat(const QString& suffix);
    void setSize(double w, double h, ExportOptions::Unit unit);
    void setDpi(double dpi);
    void setFontScale(double s);
    void setTitleShown(bool on);
    QString summary() const;  // the line under the preview ("1600 x 900 px, 13.3 x 7.5 in at 120 DPI; text from 12 pt")

private:
    void refresh();
    void browse();
    ExportOptions::Unit unit() const;

    QList<NamedChart> charts_;
    bool all_;
    QComboBox *chart_ = nullptr, *format_, *unit_;
    QDoubleSpinBox *width_, *height_, *dpi_, *fontScale_;
    QCheckBox* title_;
    QLineEdit* path_;
    QLabel *preview_, *summary_;
    ExportOptions::Unit shownUnit_ = ExportOptions::Unit::px;
    bool updating_ = false;
};

}  // namespace ckptui
