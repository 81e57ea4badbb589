// The manual (issue 28): every link of the README, the benchmark history and the manual pages
// resolves (a file that exists, a heading that exists), the manual's pages link only to what the
// program can open (another page, a lesson), every page is compiled into the program and listed
// in its contents, the README stays short, every option the CLI's --help pages name is in the
// command-line page (and that page names no option the CLI lacks), and in the window Help ›
// Manual walks every link of every page, opens lessons from their links, and F1 opens the page of
// the chart or panel it was pressed on.
#include <QApplication>
#include <QCursor>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTextDocument>
#include <QtTest>
#include <qcustomplot.h>

#include "ui/chart_tabs.h"
#include "ui/experiment.h"
#include "ui/main_window.h"
#include "ui/manual_window.h"
#include "ui/plan_panel.h"
#include "ui/properties_panel.h"
#include "ui/run_bar.h"
#include "ui/stack_editor.h"
#include "ui/stack_model.h"
#include "ui/summary_panel.h"
#include "ui/timeline_chart.h"

using namespace ckptui;

namespace {

const QString kSource = QStringLiteral(CKPT_SOURCE_DIR);

QString readFile(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QString::fromUtf8(f.readAll());
}

QStringList manualFiles() {
    return QDir(kSource + QStringLiteral("/resources/manual")).entryList({QStringLiteral("*.md")}, QDir::Files, QDir::Name);
}

// The headings' anchors of a Markdown file, as the manual browser and a code host name them.
QStringList slugsOf(const QString& path) {
    QTextDocument doc;
    doc.setMarkdown(readFile(path));
    return headingSlugs(doc);
}

// Every --option a text names (not "--" alone).
QSet<QString> optionsIn(const QString& text) {
    static const QRegularExpression option(QStringLiteral(R"((?<![\w-])(--[a-z][a-z0-9-]*))"));
    QSet<QString> out;
    auto it = option.globalMatch(text);
    while (it.hasNext()) out.insert(it.next().captured(1));
    return out;
}

}  // namespace

class TestManual : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { Q_INIT_RESOURCE(checkpointlab); }

    // What a newcomer reads stays what a newcomer needs.
    void readmeIsShort() {
        const int lines = int(readFile(kSource + QStringLiteral("/README.md")).count(QLatin1Char('\n')));
        QVERIFY2(lines > 40 && lines <= 250, qPrintable(QStringLiteral("README.md has %1 lines").arg(lines)));
    }

    void linksResolve_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("README.md") << QStringLiteral("README.md");
        QTest::newRow("tests/bench/RESULTS.md") << QStringLiteral("tests/bench/RESULTS.md");
        for (const QString& page : manualFiles())
            QTest::newRow(qPrintable(page)) << QStringLiteral("resources/manual/") + page;
    }

    // Every link of a file reaches a file of the repository and, with a fragment, a heading of
    // that file. A manual page may link only to what the program can open: another page, or a
    // preset (a lesson), or an address outside.
    void linksResolve() {
        QFETCH(QString, file);
        const QString path = kSource + QLatin1Char('/') + file;
        const QFileInfo self(path);
        QVERIFY2(self.isFile(), qPrintable(path));
        const bool manual = file.startsWith(QLatin1String("resources/manual/"));
        QTextDocument doc;
        doc.setMarkdown(readFile(path));
        const QStringList links = documentLinks(doc);
        QVERIFY2(!links.isEmpty(), qPrintable(file + " links to nothing"));
        const QString root = QDir(kSource).canonicalPath();
        for (const QString& link : links) {
            const QUrl u(link);
            const QString what = file + ": " + link;
            if (u.scheme() == QLatin1String("http") || u.scheme() == QLatin1String("https")) {
                QVERIFY2(!u.host().isEmpty(), qPrintable(what));
                continue;
            }
            QVERIFY2(u.scheme().isEmpty(), qPrintable(what + " (an unknown scheme)"));
            const QFileInfo target(u.path().isEmpty() ? path : self.dir().filePath(u.path()));
            QVERIFY2(target.exists(), qPrintable(what + " (no such file)"));
            QVERIFY2(target.canonicalFilePath().startsWith(root + QLatin1Char('/')), qPrintable(what + " (outside the repository)"));
            if (manual) {
                const QString dir = QFileInfo(target.canonicalFilePath()).dir().dirName();
                const bool page = dir == QLatin1String("manual") && target.suffix() == QLatin1String("md");
                const bool preset = dir == QLatin1String("presets") && target.suffix() == QLatin1String("json");
                QVERIFY2(page || preset, qPrintable(what + " (the program cannot open it: link a page or a preset)"));
            }
            if (!u.fragment().isEmpty()) {
                QVERIFY2(target.suffix() == QLatin1String("md"), qPrintable(what + " (a fragment of a non-Markdown file)"));
                QVERIFY2(slugsOf(target.filePath()).contains(u.fragment()),
                         qPrintable(what + " (no such heading; there are: " +
                                    slugsOf(target.filePath()).join(QStringLiteral(", ")) + ")"));
            }
        }
    }

    // Every page in the folder is in the program, and the contents (the index's links) list each.
    void everyPageIsShipped() {
        const QStringList files = manualFiles();
        QVERIFY(files.size() >= 12);
        const QStringList shipped = QDir(QStringLiteral(":/manual")).entryList({QStringLiteral("*.md")}, QDir::Files, QDir::Name);
        QCOMPARE(shipped, files);
        for (const QString& page : files) {
            QFile f(QStringLiteral(":/manual/") + page);
            QVERIFY(f.open(QIODevice::ReadOnly));
            QCOMPARE(QString::fromUtf8(f.readAll()), readFile(kSource + QStringLiteral("/resources/manual/") + page));
        }
        QStringList listed = manualPages();
        QCOMPARE(listed.first(), QStringLiteral("index.md"));
        std::sort(listed.begin(), listed.end());
        QCOMPARE(listed, files);
    }

    // The command-line page documents every option of every --help page, and only those.
    void everyCliOptionIsDocumented() {
        QSet<QString> help;
        for (const QStringList& args : {QStringList{"--help"}, QStringList{"run", "--help"}, QStringList{"plan", "--help"}, QStringList{"predict", "--help"},
                                        QStringList{"import", "--help"}, QStringList{"export-torch", "--help"},
                                        QStringList{"import-torch-snapshot", "--help"}}) {
            QProcess p;
            p.start(QStringLiteral(CKPT_CLI_PATH), args);
            QVERIFY(p.waitForFinished(30000));
            QCOMPARE(p.exitCode(), 0);
            help += optionsIn(QString::fromUtf8(p.readAllStandardOutput()));
        }
        QVERIFY2(help.size() >= 25, qPrintable(QStringList(help.values()).join(' ')));
        const QString page = readFile(kSource + QStringLiteral("/resources/manual/command-line.md"));
        const QSet<QString> documented = optionsIn(page);
        QStringList missing = QStringList((help - documented).values()), unknown = QStringList((documented - help).values());
        missing.sort();
        unknown.sort();
        QVERIFY2(missing.isEmpty(), qPrintable("not in command-line.md: " + missing.join(' ')));
        QVERIFY2(unknown.isEmpty(), qPrintable("in command-line.md but in no --help page: " + unknown.join(' ')));
    }

    void headingSlugsAreTheCodeHostsOnes() {
        QCOMPARE(headingSlug(QStringLiteral("Precision, GPUs and parallel layouts")),
                 QStringLiteral("precision-gpus-and-parallel-layouts"));
        QCOMPARE(headingSlug(QStringLiteral("The dump-tensors file")), QStringLiteral("the-dump-tensors-file"));
        QCOMPARE(headingSlug(QStringLiteral("Lesson 1: activations dominate, checkpointing helps")),
                 QStringLiteral("lesson-1-activations-dominate-checkpointing-helps"));
        QTextDocument doc;
        doc.setMarkdown(QStringLiteral("# A\n\n## Notes\n\ntext\n\n## Notes\n\n### `run`\n"));
        QCOMPARE(headingSlugs(doc), (QStringList{"a", "notes", "notes-1", "run"}));
    }

    // Help › Manual shows every page, and every link of every page lands where it points: a page
    // at its heading, or a lesson opened in the window.
    void manualWalksEveryLink() {
        MainWindow w;
        w.show();
        QAction* action = w.findChild<QAction*>(QStringLiteral("manualAction"));
        QVERIFY(action);
        QCOMPARE(action->shortcut(), QKeySequence(QKeySequence::HelpContents));
        action->trigger();
        ManualWindow* m = w.manualWindow();
        QVERIFY(m && m->isVisible());
        m->hide();  // the same pages and links, without painting each page on the way
        // Every distinct target once: the pages share one folder, so a link resolves alike on
        // every page that has it.
        QSet<QUrl> followed;
        int pagesFollowed = 0, anchors = 0, lessons = 0;
        for (const QString& page : manualPages()) {
            m->showPage(manualUrl(page));
            QCOMPARE(m->currentUrl(), manualUrl(page));
            const QTextDocument* doc = m->browser()->document();
            QCOMPARE(doc->begin().blockFormat().headingLevel(), 1);
            for (const QString& link : documentLinks(*doc)) {
                const QUrl u(link);
                if (u.scheme() == QLatin1String("http") || u.scheme() == QLatin1String("https")) continue;
                const QUrl target = manualUrl(page).resolved(u);
                const QString what = page + ": " + link;
                if (followed.contains(target)) continue;
                followed.insert(target);
                if (const QString preset = presetOfLink(target); !preset.isEmpty()) {
                    Experiment e;
                    QCOMPARE(ckptui::loadPreset(preset, &e), QString());
                    // Another model first, so that the link visibly changes the window.
                    const QString other = preset == QLatin1String("tutorial_mlp") ? QStringLiteral("textbook_mlp")
                                                                                    : QStringLiteral("tutorial_mlp");
                    QCOMPARE(w.loadPreset(other), QString());
                    m->openLink(u);
                    QVERIFY2(w.stackModel()->spec() == e.spec, qPrintable(what + " did not open " + preset));
                    ++lessons;
                    continue;
                }
                m->openLink(u);
                QCOMPARE(m->currentUrl(), target);
                QVERIFY2(m->browser()->document()->begin().blockFormat().headingLevel() == 1, qPrintable(what));
                if (target.hasFragment()) {
                    QVERIFY2(m->browser()->hasAnchor(target.fragment()), qPrintable(what + " (no such heading)"));
                    ++anchors;
                }
                ++pagesFollowed;
                m->browser()->backward();
                QCOMPARE(m->currentUrl(), manualUrl(page));
            }
        }
        QVERIFY2(pagesFollowed > 40 && anchors > 20 && lessons >= 15,
                 qPrintable(QStringLiteral("%1 page links, %2 anchors, %3 lessons").arg(pagesFollowed).arg(anchors).arg(lessons)));
    }

    // F1 on a chart opens that chart's section; on a panel, the panel's; elsewhere the contents.
    void f1OpensThePageOfWhatItIsPressedOn() {
        MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        ChartTabs* tabs = w.charts();
        const QList<QPair<QWidget*, QString>> charts{{w.timeline(), "memory-timeline"},
                                                     {tabs->blockBytes(), "per-block"},
                                                     {tabs->blockTime(), "per-block"},
                                                     {tabs->history(), "step-history"},
                                                     {tabs->comparison(), "compare"},
                                                     {tabs->pareto(), "pareto"}};
        const int tabOf[] = {0, 1, 1, 2, 3, 4};
        for (int i = 0; i < charts.size(); ++i) {
            tabs->setCurrentIndex(tabOf[i]);
            // The pointer over the chart, no focus anywhere in particular.
            QCOMPARE(w.helpUrlFor(charts[i].first, nullptr), manualUrl(QStringLiteral("charts.md"), charts[i].second));
            // Focus on the chart, the pointer elsewhere.
            QCOMPARE(w.helpUrlFor(w.stackEditor(), charts[i].first), manualUrl(QStringLiteral("charts.md"), charts[i].second));
        }
        // The tab bar stands for the tab on screen.
        tabs->setCurrentIndex(ChartTabs::ParetoTab);
        QCOMPARE(w.helpUrlFor(nullptr, tabs->tabBar()), manualUrl(QStringLiteral("charts.md"), QStringLiteral("pareto")));
        const QString window = QStringLiteral("window.md");
        QCOMPARE(w.helpUrlFor(nullptr, w.stackEditor()), manualUrl(window, QStringLiteral("layer-stack")));
        QCOMPARE(w.helpUrlFor(nullptr, w.planPanel()), manualUrl(window, QStringLiteral("budget-and-plan")));
        QCOMPARE(w.helpUrlFor(nullptr, w.properties()), manualUrl(window, QStringLiteral("properties")));
        QCOMPARE(w.helpUrlFor(nullptr, w.summary()), manualUrl(window, QStringLiteral("summary")));
        QCOMPARE(w.helpUrlFor(nullptr, w.runBar()), manualUrl(window, QStringLiteral("run-bar")));
        QCOMPARE(w.helpUrlFor(nullptr, nullptr), manualUrl(QStringLiteral("index.md")));
        // Each of those sections exists.
        for (const QUrl& u : {w.helpUrlFor(nullptr, w.stackEditor()), w.helpUrlFor(nullptr, w.planPanel()),
                              w.helpUrlFor(nullptr, w.properties()), w.helpUrlFor(nullptr, w.summary()),
                              w.helpUrlFor(nullptr, w.runBar())}) {
            w.showManual(u);
            QVERIFY2(w.manualWindow()->browser()->hasAnchor(u.fragment()), qPrintable(u.toString()));
        }

        // The key itself: F1 with a chart clicked (focused) and the pointer away from the window.
        QCursor::setPos(w.frameGeometry().bottomRight() + QPoint(300, 300));
        for (int i : {0, 3, 5}) {
            w.manualWindow()->hide();
            w.activateWindow();
            QVERIFY(QTest::qWaitForWindowActive(&w));
            tabs->setCurrentIndex(tabOf[i]);
            charts[i].first->setFocus(Qt::MouseFocusReason);
            QCOMPARE(QApplication::focusWidget(), charts[i].first);
            QTest::keyClick(charts[i].first, Qt::Key_F1);
            QVERIFY(w.manualWindow()->isVisible());
            QCOMPARE(w.manualWindow()->currentUrl(), manualUrl(QStringLiteral("charts.md"), charts[i].second));
            QVERIFY(w.manualWindow()->browser()->hasAnchor(charts[i].second));
        }
    }
};

QTEST_MAIN(TestManual)
#include "tst_manual.moc"
