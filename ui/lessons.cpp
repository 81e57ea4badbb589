// The lesson table (see lessons.h).
#include "ui/lessons.h"

#include "ckpt/session.h"
#include "ckpt/templates.h"
#include "ui/style.h"

namespace ckptui {

QString describeModel(const ckpt::ModelSpec& spec) {
    QString text = QString::fromStdString(spec.description);
    if (!text.contains(QLatin1Char('{'))) return text;
    ckpt::ModelSpec unchecked = spec;
    for (ckpt::BlockSpec& b : unchecked.blocks) b.checkpoint = false;
    const auto p = ckpt::predict(unchecked, 2);
    if (!p) return text;
    text.replace(QLatin1String("{parameters}"), humanBytes(p->baseline[int(ckpt::Category::parameter)]));
    text.replace(QLatin1String("{kept_unchecked}"), humanBytes(p->kept_bytes_total()));
    text.replace(QLatin1String("{peak_unchecked}"), humanBytes(p->peak_total));
    if (text.contains(QLatin1String("{peak_all}"))) {
        ckpt::ModelSpec all = spec;
        for (ckpt::BlockSpec& b : all.blocks) b.checkpoint = true;
        if (const auto a = ckpt::predict(all, 2)) text.replace(QLatin1String("{peak_all}"), humanBytes(a->peak_total));
    }
    if (text.contains(QLatin1String("{peak_sqrt}"))) {  // Chen's ceil(sqrt(n)) segments
        ckpt::ModelSpec chen = unchecked;
        if (const auto set = ckpt::parse_checkpoint("sqrt", chen)) {
            ckpt::apply_checkpoint(chen, *set);
            if (const auto c = ckpt::predict(chen, 2)) text.replace(QLatin1String("{peak_sqrt}"), humanBytes(c->peak_total));
        }
    }
    if (text.contains(QLatin1String("{peak_flash}"))) {  // unchecked, every attention layer fused
        ckpt::ModelSpec flash = unchecked;
        ckpt::set_attention_impl(flash, ckpt::AttentionImpl::flash);
        if (const auto f = ckpt::predict(flash, 2)) text.replace(QLatin1String("{peak_flash}"), humanBytes(f->peak_total));
    }
    return text;
}

const QVector<Lesson>& lessons() {
    static const QVector<Lesson> table{
        {QStringLiteral("lesson1_activations"), QStringLiteral("Lesson 1: activations dominate, checkpointing helps"), 0},
        {QStringLiteral("lesson2_optimizer_state"), QStringLiteral("Lesson 2: parameters dominate, checkpointing cannot"), 0},
        {QStringLiteral("lesson3_selective_attention"), QStringLiteral("Lesson 3: selective beats full on attention"), 0},
        {QStringLiteral("lesson4_memory_limit"), QStringLiteral("Lesson 4: a memory limit only a plan fits"), qint64(10) << 20},
        {QStringLiteral("lesson5_fused_attention"), QStringLiteral("Lesson 5: what a fused attention kernel keeps"), 0},
        {QStringLiteral("lesson6_sublinear_memory"), QStringLiteral("Lesson 6: sublinear memory (Chen et al. 2016)"), 0},
    };
    return table;
}

const Lesson* findLesson(const QString& preset) {
    for (const Lesson& l : lessons())
        if (l.preset == preset) return &l;
    return nullptr;
}

QString startupPreset() { return lessons().first().preset; }

}  // namespace ckptui
