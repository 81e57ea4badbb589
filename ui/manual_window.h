// The manual in the program (Help › Manual, F1): the Markdown pages of resources/manual, compiled
// in through the Qt resource system, in a window of their own with a contents list and the
// history buttons of a help browser. The pages are the repository's Markdown files as they are,
// so they read the same here and on a code host: links between pages are relative
// (`numbers.md#memory-categories`), anchors are GitHub's heading slugs (Qt's Markdown reader
// names no headings, so the browser gives each heading its slug when a page loads), and a link
// to a preset file (`../presets/lesson1_activations.json`) opens that lesson in the main window.
#pragma once

#include <QStringList>
#include <QTextBrowser>
#include <QUrl>
#include <QWidget>

class QListWidget;
class QTextDocument;

namespace ckptui {

// The slug a code host gives a heading: lower case, every character but letters, digits, '_',
// '-' and spaces dropped, spaces turned into '-'.
QString headingSlug(const QString& heading);
// The anchors of a document's headings in order, the n-th repeat of a slug suffixed "-n".
QStringList headingSlugs(const QTextDocument& doc);
// The link targets (href) of a document, in order, each once.
QStringList documentLinks(const QTextDocument& doc);
// The pages: index.md, then every page the index links to, in its order (file names).
QStringList manualPages();
// qrc:/manual/PAGE#ANCHOR.
QUrl manualUrl(const QString& page, const QString& anchor = {});
// The preset a link resolved against a manual page points at ("lesson1_activations"), or "".
QString presetOfLink(const QUrl& resolved);

// A QTextBrowser for the manual's Markdown, with the base class's history and link handling:
// each page is built as a document of its own, its headings named by their slugs so that links
// to `page.md#slug` land on the heading.
class ManualBrowser : public QTextBrowser {
    Q_OBJECT

public:
    explicit ManualBrowser(QWidget* parent = nullptr);
    bool hasAnchor(const QString& name) const;

protected:
    QVariant loadResource(int type, const QUrl& name) override;

private:
    // Puts the page of `url` on screen (built off-screen, its headings named) unless it is there,
    // then scrolls to the URL's fragment.
    void showLoaded(const QUrl& url);

    QUrl loadedPage_;
};

class ManualWindow : public QWidget {
    Q_OBJECT

public:
    explicit ManualWindow(QWidget* parent = nullptr);

    // Shows a page of the manual (qrc:/manual/...), with its anchor if the URL has one.
    void showPage(const QUrl& url);
    // What a click on a link does: a page of the manual, a lesson (presetRequested), or an
    // outside address in the desktop's browser. `link` is as written in the page.
    void openLink(const QUrl& link);
    QUrl currentUrl() const { return current_; }  // with its fragment
    ManualBrowser* browser() const { return browser_; }

signals:
    void presetRequested(const QString& name);

private:
    void pageShown(const QUrl& url);

    ManualBrowser* browser_;
    QListWidget* contents_;
    QStringList pages_;
    QUrl current_;
};

}  // namespace ckptui
