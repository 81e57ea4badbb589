// The manual window (see manual_window.h).
#include "ui/manual_window.h"

#include <QAction>
#include <QDesktopServices>
#include <QFile>
#include <QHBoxLayout>
#include <QListWidget>
#include <QRegularExpression>
#include <QSet>
#include <QSplitter>
#include <QStyle>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>
#include <QToolBar>
#include <QVBoxLayout>

namespace ckptui {

namespace {

const QString kManualRoot = QStringLiteral("qrc:/manual/");

QString readResource(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QString::fromUtf8(f.readAll());
}

// "# Using the window" -> "Using the window": a page's title is its first heading.
QString pageTitle(const QString& page) {
    const QString text = readResource(QStringLiteral(":/manual/") + page);
    for (const QString& line : text.split(QLatin1Char('\n')))
        if (line.startsWith(QLatin1String("# "))) return line.mid(2).trimmed();
    return page;
}

}  // namespace

QString headingSlug(const QString& heading) {
    QString slug;
    for (const QChar c : heading.toLower()) {
        if (c.isLetterOrNumber() || c.isMark() || c == QLatin1Char('_') || c == QLatin1Char('-')) slug += c;
        else if (c == QLatin1Char(' ')) slug += QLatin1Char('-');
    }
    return slug;
}

QStringList headingSlugs(const QTextDocument& doc) {
    QStringList slugs;
    QHash<QString, int> seen;
    for (QTextBlock b = doc.begin(); b.isValid(); b = b.next()) {
        if (b.blockFormat().headingLevel() == 0) continue;
        const QString base = headingSlug(b.text());
        const int n = seen.value(base, 0);
        seen[base] = n + 1;
        slugs << (n == 0 ? base : base + QLatin1Char('-') + QString::number(n));
    }
    return slugs;
}

QStringList documentLinks(const QTextDocument& doc) {
    QStringList links;
    QSet<QString> seen;
    for (QTextBlock b = doc.begin(); b.isValid(); b = b.next())
        for (auto it = b.begin(); !it.atEnd(); ++it) {
            const QTextCharFormat f = it.fragment().charFormat();
            if (!f.isAnchor() || f.anchorHref().isEmpty() || seen.contains(f.anchorHref())) continue;
            seen.insert(f.anchorHref());
            links << f.anchorHref();
        }
    return links;
}

QStringList manualPages() {
    // The index lists the pages in reading order: one list, kept where a reader sees it.
    QStringList pages{QStringLiteral("index.md")};
    static const QRegularExpression link(QStringLiteral(R"(\]\(([a-z0-9-]+\.md)\))"));
    auto it = link.globalMatch(readResource(QStringLiteral(":/manual/index.md")));
    while (it.hasNext()) {
        const QString page = it.next().captured(1);
        if (!pages.contains(page)) pages << page;
    }
    return pages;
}

QUrl manualUrl(const QString& page, const QString& anchor) {
    QUrl url(kManualRoot + page);
    if (!anchor.isEmpty()) url.setFragment(anchor);
    return url;
}

QString presetOfLink(const QUrl& resolved) {
    static const QRegularExpression preset(QStringLiteral(R"(^/presets/([a-z0-9_]+)\.json$)"));
    if (resolved.scheme() != QLatin1String("qrc")) return {};
    const QRegularExpressionMatch m = preset.match(resolved.path());
    return m.hasMatch() ? m.captured(1) : QString();
}

// ---- ManualBrowser ------------------------------------------------------------------------------

ManualBrowser::ManualBrowser(QWidget* parent) : QTextBrowser(parent) {
    setOpenLinks(false);  // ManualWindow decides: a page, a lesson or the desktop's browser
    // Every way to a page (setSource, Back, Forward, Reload) ends in sourceChanged.
    connect(this, &QTextBrowser::sourceChanged, this, &ManualBrowser::showLoaded);
}

bool ManualBrowser::hasAnchor(const QString& name) const {
    for (QTextBlock b = document()->begin(); b.isValid(); b = b.next())
        for (auto it = b.begin(); !it.atEnd(); ++it)
            if (it.fragment().charFormat().anchorNames().contains(name)) return true;
    return false;
}

QVariant ManualBrowser::loadResource(int type, const QUrl& name) {
    // A page of the manual is built off-screen (showLoaded): Markdown inserted into the document
    // of a browser that has been on screen is laid out again at every insertion, seconds for a
    // page of long tables, against a tenth of a second for a finished document. The base class
    // gets a blank page, and keeps its history and link resolution.
    if (type == QTextDocument::MarkdownResource && name.scheme() == QLatin1String("qrc") &&
        name.path().startsWith(QLatin1String("/manual/")))
        return QString(QLatin1Char('\n'));
    return QTextBrowser::loadResource(type, name);
}

void ManualBrowser::showLoaded(const QUrl& url) {
    QUrl page = url;
    page.setFragment(QString());
    if (page.scheme() == QLatin1String("qrc") && (page != loadedPage_ || document()->characterCount() <= 2)) {
        loadedPage_ = page;
        auto* doc = new QTextDocument(this);
        doc->setDefaultFont(font());
        doc->setBaseUrl(page);
        doc->setMarkdown(readResource(QLatin1Char(':') + page.path()));
        // Each heading gets its slug as an anchor name, for links to page.md#slug.
        const QStringList slugs = headingSlugs(*doc);
        QTextCursor c(doc);
        int i = 0;
        for (QTextBlock b = doc->begin(); b.isValid() && i < slugs.size(); b = b.next()) {
            if (b.blockFormat().headingLevel() == 0) continue;
            c.setPosition(b.position());
            c.movePosition(QTextCursor::EndOfBlock, QTextCursor::KeepAnchor);
            QTextCharFormat f;
            f.setAnchor(true);
            f.setAnchorNames({slugs[i++]});
            c.mergeCharFormat(f);
        }
        // The first document belongs to the text control, which deletes it when replaced; the
        // later ones are this browser's.
        QTextDocument* old = document();
        const bool mine = old && old->parent() == this;
        setDocument(doc);
        if (mine) old->deleteLater();
    }
    if (url.hasFragment()) scrollToAnchor(url.fragment());
}

// ---- ManualWindow -------------------------------------------------------------------------------

ManualWindow::ManualWindow(QWidget* parent) : QWidget(parent, Qt::Window) {
    setObjectName(QStringLiteral("manualWindow"));
    setWindowTitle(tr("CheckpointLab Manual"));
    resize(1000, 720);
    browser_ = new ManualBrowser(this);
    browser_->setObjectName(QStringLiteral("manualBrowser"));
    contents_ = new QListWidget(this);
    contents_->setObjectName(QStringLiteral("manualContents"));
    pages_ = manualPages();
    for (const QString& page : pages_) contents_->addItem(pageTitle(page));

    auto* bar = new QToolBar(this);
    bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    QAction* back = bar->addAction(style()->standardIcon(QStyle::SP_ArrowBack), tr("Back"), browser_, &QTextBrowser::backward);
    back->setShortcut(QKeySequence::Back);
    QAction* forward =
        bar->addAction(style()->standardIcon(QStyle::SP_ArrowForward), tr("Forward"), browser_, &QTextBrowser::forward);
    forward->setShortcut(QKeySequence::Forward);
    bar->addAction(style()->standardIcon(QStyle::SP_DirHomeIcon), tr("Contents"), this,
                   [this] { showPage(manualUrl(pages_.value(0))); });
    back->setEnabled(false);
    forward->setEnabled(false);
    connect(browser_, &QTextBrowser::backwardAvailable, back, &QAction::setEnabled);
    connect(browser_, &QTextBrowser::forwardAvailable, forward, &QAction::setEnabled);

    auto* split = new QSplitter(this);
    split->addWidget(contents_);
    split->addWidget(browser_);
    split->setStretchFactor(1, 1);
    split->setSizes({260, 740});
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(bar);
    layout->addWidget(split, 1);

    connect(contents_, &QListWidget::currentRowChanged, this, [this](int row) {
        if (row < 0 || row >= pages_.size()) return;
        QUrl page = current_;
        page.setFragment(QString());
        if (page != manualUrl(pages_[row])) showPage(manualUrl(pages_[row]));
    });
    connect(browser_, &QTextBrowser::anchorClicked, this, &ManualWindow::openLink);
    connect(browser_, &QTextBrowser::sourceChanged, this, &ManualWindow::pageShown);
    showPage(manualUrl(pages_.value(0)));
}

void ManualWindow::showPage(const QUrl& url) { browser_->setSource(url); }

void ManualWindow::openLink(const QUrl& link) {
    const QUrl target = current_.resolved(link);
    if (target.scheme() == QLatin1String("qrc") && target.path().startsWith(QLatin1String("/manual/"))) {
        showPage(target);
        return;
    }
    if (const QString preset = presetOfLink(target); !preset.isEmpty()) {
        emit presetRequested(preset);
        return;
    }
    QDesktopServices::openUrl(target);
}

void ManualWindow::pageShown(const QUrl& url) {
    current_ = url;
    QUrl page = url;
    page.setFragment(QString());
    const int row = pages_.indexOf(page.fileName());
    if (row >= 0) {
        const QSignalBlocker quiet(contents_);
        contents_->setCurrentRow(row);
        setWindowTitle(tr("%1 — CheckpointLab Manual").arg(contents_->item(row)->text()));
    }
}

}  // namespace ckptui
