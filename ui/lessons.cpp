// The lesson table (see lessons.h).
#include "ui/lessons.h"

namespace ckptui {

const QVector<Lesson>& lessons() {
    static const QVector<Lesson> table{
        {QStringLiteral("lesson1_activations"), QStringLiteral("Lesson 1: activations dominate, checkpointing helps"), 0},
        {QStringLiteral("lesson2_optimizer_state"), QStringLiteral("Lesson 2: parameters dominate, checkpointing cannot"), 0},
        {QStringLiteral("lesson3_selective_attention"), QStringLiteral("Lesson 3: selective beats full on attention"), 0},
        {QStringLiteral("lesson4_memory_limit"), QStringLiteral("Lesson 4: a memory limit only a plan fits"), qint64(10) << 20},
        {QStringLiteral("lesson5_fused_attention"), QStringLiteral("Lesson 5: what a fused attention kernel keeps"), 0},
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
