"""Accommodations in the gradebook: what a course-wide shift of some students' dates costs.

Run: .venv/bin/python bench/accommodation_bench.py [--students 300] [--assignments 30]
On the course of bench/late_gradebook_bench.py (a third of the attempts late, an
extension and an override per assignment), prints the median of 5 runs of computing
the gradebook with no accommodation, then with one student in ten accommodated by 48
hours (read in one query per gradebook, not one per cell), one such student's counted
score, and granting then revoking one accommodation (every assignment's score of the
student recounted and compared with what the LMS has).
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from late_gradebook_bench import median_ms, scratch_app, seed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--assignments", type=int, default=30)
    args = parser.parse_args()

    import sqlalchemy as sa

    from server.courses import accommodations
    from server.extensions import db
    from server.models import Accommodation, Enrollment, User
    from server.scoring.gradebook import build_gradebook, counted_score

    with scratch_app() as (app, folder):
        course, first, _ = seed(args.students, args.assignments)
        plain = median_ms(lambda: build_gradebook(course))
        ids = db.session.scalars(
            sa.select(Enrollment.user_id).where(Enrollment.course_id == course.id)
        ).all()
        shifted = ids[::10]
        db.session.add_all(
            Accommodation(
                course_id=course.id,
                user_id=i,
                shift_seconds=48 * 3600,
                reason="bench",
                granted_by="bench",
            )  # fmt: skip
            for i in shifted
        )
        db.session.commit()
        figures = {
            "gradebook, no accommodation": plain,
            f"gradebook, {len(shifted)} accommodated": median_ms(lambda: build_gradebook(course)),
            "one accommodated score": median_ms(lambda: counted_score(first.id, shifted[0])),
        }
        email = db.session.get(User, ids[5]).email  # not accommodated (ids[::10] are)

        def grant_and_revoke() -> None:
            accommodations.grant(course, email, 24, "bench", None)
            db.session.commit()
            accommodations.revoke(course, email, None)
            db.session.commit()

        figures["grant + revoke one"] = median_ms(grant_and_revoke)
    cells = args.students * args.assignments
    print(f"{args.students} students x {args.assignments} assignments ({cells} cells), "
          "SQLite; median of 5")  # fmt: skip
    for label, ms in figures.items():
        print(f"  {label:30} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
