"""evaluate_router, which measures the scikit-learn router model (grievances/router_model.py) against
issue 9's baseline. The model itself is tested in tests/test_router_model.py.

The sentences below are made up for these tests; the citizens' messages are only read from shared/data.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from grievances.management.commands.evaluate_router import held_out_share
from tests.data import shared_file

ROOT = Path(__file__).resolve().parent.parent
TAXONOMY = ROOT / "duty_lists" / "demo_data" / "taxonomy_3level.csv"

EXAMPLES = [
    ("小区楼下烧烤店油烟很大，晚上噪音扰民睡不着", "环境"),
    ("工厂排放污水，河里的鱼都死了，水很臭", "环境"),
    ("附近工地夜间施工噪音太大，影响休息", "环境"),
    ("垃圾站臭气熏天，苍蝇很多，污染严重", "环境"),
    ("孩子学校收取补课费，老师强制学生参加补习", "教育"),
    ("幼儿园收费太高，学位紧张，入学难", "教育"),
    ("学校食堂饭菜质量差，学生吃不饱", "教育"),
    ("中考招生政策不公平，学籍转不过来", "教育"),
    ("公交车站取消了，老人出行不方便", "交通"),
    ("路口红绿灯坏了好几天，车辆乱行很危险", "交通"),
    ("出租车司机拒载绕路，乱收费", "交通"),
    ("道路坑洼不平，下雨积水，车辆无法通行", "交通"),
]


# --- evaluate_router ---------------------------------------------------------------------------------------


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _evaluate(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("evaluate_router", *args, stdout=out)
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


@pytest.fixture
def train_csv(tmp_path: Path) -> Path:
    rows = [[str(i), text[:6], text, label] for i, (text, label) in enumerate(EXAMPLES, start=1)]
    return _write_csv(tmp_path / "train.csv", ["编号", "标题", "内容", "分类"], rows)


def test_evaluate_router_reports_arithmetic_one_can_check_by_hand(tmp_path: Path, train_csv: Path) -> None:
    test_csv = _write_csv(
        tmp_path / "test.csv",
        ["编号", "标题", "内容", "分类"],
        [
            ["101", "噪音", "工地晚上施工噪音扰民", "环境"],
            ["102", "污水", "工厂排放污水很臭", "环境"],
            ["103", "补课", "学校强制补课收费", "教育"],
            # An education complaint filed under 交通: a top-1 miss that is not in the top 3 only if the
            # router knew fewer than three labels.
            ["104", "补课", "老师强制学生补课", "交通"],
        ],
    )

    report = _evaluate(
        "--train", str(train_csv), "--test", str(test_csv), "--text-cols", "标题,内容", "--label-col", "分类",
        "--threshold", "0",
    )  # fmt: skip

    assert report["train_size"] == 12 and report["test_size"] == 4 and report["labels"] == 3
    assert report["top1_accuracy"] == 0.75  # 3 of 4
    assert report["top3_accuracy"] == 1.0  # 3 labels: every right answer is in the top 3
    assert report["per_label"] == {
        "环境": {"precision": 1.0, "recall": 1.0, "support": 2},
        "教育": {"precision": 0.5, "recall": 1.0, "support": 1},  # 103 and 104 both predicted 教育
        "交通": {"precision": None, "recall": 0.0, "support": 1},  # never predicted
    }
    # Threshold 0: everything is dispatched, and it is as precise as top-1.
    assert report["threshold"] == 0.0
    assert report["auto_dispatched_share"] == 1.0 and report["auto_dispatched_precision"] == 0.75
    assert sum(band["count"] for band in report["calibration"]) == 4
    shares = [row["share"] for row in report["by_threshold"]]
    assert shares == sorted(shares, reverse=True)
    assert report["seconds_per_route_ms"] > 0
    assert report["split"]["train_rows_dropped_as_in_test"] == 0


def test_evaluate_router_splits_one_file_by_id_with_no_grievance_on_both_sides(train_csv: Path) -> None:
    expected_test = sum(held_out_share(str(i)) < 0.4 for i in range(1, len(EXAMPLES) + 1))

    report = _evaluate(
        "--train", str(train_csv), "--test", str(train_csv), "--text-cols", "内容", "--label-col", "分类",
        "--id-col", "编号", "--split-by-id", "0.4",
    )  # fmt: skip

    assert report["test_size"] == expected_test and report["train_size"] == len(EXAMPLES) - expected_test
    assert 0 < expected_test < len(EXAMPLES)


def test_evaluate_router_leaves_test_ids_out_of_training(tmp_path: Path, train_csv: Path) -> None:
    test_csv = _write_csv(tmp_path / "test.csv", ["编号", "内容", "分类"], [["3", "工地施工噪音", "环境"]])

    report = _evaluate(
        "--train", str(train_csv), "--test", str(test_csv), "--text-cols", "内容", "--label-col", "分类",
        "--id-col", "编号",
    )  # fmt: skip

    assert report["split"]["train_rows_dropped_as_in_test"] == 1 and report["train_size"] == 11


def test_evaluate_router_measures_at_a_given_threshold_or_chooses_one_on_the_training_part(
    train_csv: Path,
) -> None:
    args = (
        "--train", str(train_csv), "--test", str(train_csv), "--text-cols", "内容", "--label-col", "分类",
        "--id-col", "编号", "--split-by-id", "0.4",
    )  # fmt: skip
    assert _evaluate(*args, "--threshold", "0.77")["threshold"] == 0.77
    chosen = _evaluate(*args, "--target-precision", "0.9")
    assert chosen["threshold_source"].startswith("chosen on 3 folds of the training part")
    assert 0.0 <= chosen["threshold"] <= 1.0
    assert {"top1", "top3", "expected_calibration_error", "baseline"} <= chosen.keys()


def test_evaluate_router_refuses_a_target_precision_out_of_range(train_csv: Path) -> None:
    with pytest.raises(CommandError, match="target-precision"):
        _evaluate(
            "--train", str(train_csv), "--test", str(train_csv), "--text-cols", "内容", "--label-col", "分类",
            "--id-col", "编号", "--split-by-id", "0.4", "--target-precision", "1.5",
        )  # fmt: skip


def test_evaluate_router_missing_column_is_a_command_error(train_csv: Path) -> None:
    with pytest.raises(CommandError, match="no column 正文"):
        _evaluate(
            "--train", str(train_csv), "--test", str(train_csv), "--text-cols", "标题,正文",
            "--label-col", "分类", "--id-col", "编号", "--split-by-id", "0.3",
        )  # fmt: skip


def test_evaluate_router_missing_file_is_a_command_error(tmp_path: Path, train_csv: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        _evaluate(
            "--train", str(train_csv), "--test", str(tmp_path / "nowhere.csv"), "--text-cols", "内容",
            "--label-col", "分类",
        )  # fmt: skip


def test_evaluate_router_refuses_to_test_on_its_training_file_without_a_split(train_csv: Path) -> None:
    with pytest.raises(CommandError, match="--split-by-id"):
        _evaluate(
            "--train", str(train_csv), "--test", str(train_csv), "--text-cols", "内容", "--label-col", "分类"
        )


def test_evaluate_router_reads_xlsx(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["编号", "内容", "分类"])
    for i, (text, label) in enumerate(EXAMPLES, start=1):
        sheet.append([i, text, label])
    path = tmp_path / "history.xlsx"
    workbook.save(path)

    report = _evaluate(
        "--train", str(path), "--test", str(path), "--text-cols", "内容", "--label-col", "分类",
        "--id-col", "编号", "--split-by-id", "0.4",
    )  # fmt: skip

    assert report["train_size"] + report["test_size"] == len(EXAMPLES)


def test_evaluate_router_on_the_tipdm_messages_meets_the_targets() -> None:
    """The acceptance run: 495 real messages, 7 topics, 30% held out by message id, the taxonomy's names as
    prior documents, the threshold chosen on the training part for 95% precision. Measured 2026-12-07
    (hashed features, training rows shuffled since the file is grouped by topic): top-1 0.846, top-3
    0.963, 96% precise at 62% dispatched; the baseline (TF-IDF char 1-3 + LinearSVC(C=0.5)) on the same
    split: top-1 0.765, top-3 0.934."""
    messages = shared_file("tipdm2020", "messages_labelled_level1.csv")

    report = _evaluate(
        "--train", str(messages), "--test", str(messages), "--text-cols", "留言主题,留言详情",
        "--label-col", "一级分类", "--id-col", "留言编号", "--split-by-id", "0.3",
        "--prior", str(TAXONOMY),
    )  # fmt: skip

    assert report["labels"] == 7 and report["test_size"] + report["train_size"] == 495
    assert report["top1"] >= report["baseline"]["top1"] + 0.06
    assert report["top3"] >= 0.95 and report["top3"] > report["baseline"]["top3"]
    assert report["auto_dispatched_precision"] >= 0.95
    assert report["auto_dispatched_share"] >= 0.4
    assert report["expected_calibration_error"] <= 0.15


def test_evaluate_router_learns_oldest_first_by_a_time_column_and_names_a_row_with_no_time(
    tmp_path: Path,
) -> None:
    header = ["编号", "时间", "内容", "分类"]
    rows = [[str(i), f"2020/1/{i + 1} 08:00:00", text, label] for i, (text, label) in enumerate(EXAMPLES)]
    good = _write_csv(tmp_path / "timed.csv", header, rows)
    test = _write_csv(tmp_path / "test.csv", ["内容", "分类"], [["工地施工噪音", "环境"]])
    common = ("--test", str(test), "--text-cols", "内容", "--label-col", "分类")

    assert _evaluate("--train", str(good), *common, "--time-col", "时间")["split"]["train_order"] == "by 时间"
    assert _evaluate("--train", str(good), *common)["split"]["train_order"].startswith("shuffled")
    rows[3][1] = "上周二"
    bad = _write_csv(tmp_path / "untimed.csv", header, rows)
    with pytest.raises(CommandError, match="row 5: 时间 '上周二' is not a date and time"):
        _evaluate("--train", str(bad), *common, "--time-col", "时间")
    with pytest.raises(CommandError, match="no column 日期"):
        _evaluate("--train", str(good), *common, "--time-col", "日期")
