"""The scikit-learn router model (grievances/router_model.py), before routing is moved over to it: it ranks,
calibrates, explains, stores and refuses what it must. Small examples, so the suite stays fast."""

from __future__ import annotations

import numpy as np
import pytest

from grievances.router_model import TextClassifier, fit_temperature

EXAMPLES = [
    ("油烟扰民", "小区楼下烧烤店油烟很大，晚上噪音扰民睡不着", "环境"),
    ("污水排放", "工厂排放污水，河里的鱼都死了，水很臭", "环境"),
    ("夜间施工", "附近工地夜间施工噪音太大，影响休息", "环境"),
    ("垃圾站臭", "垃圾站臭气熏天，苍蝇很多，污染严重", "环境"),
    ("补课收费", "孩子学校收取补课费，老师强制学生参加补习", "教育"),
    ("幼儿园收费", "幼儿园收费太高，学位紧张，入学难", "教育"),
    ("食堂质量", "学校食堂饭菜质量差，学生吃不饱", "教育"),
    ("招生政策", "中考招生政策不公平，学籍转不过来", "教育"),
    ("公交站取消", "公交车站取消了，老人出行不方便", "交通"),
    ("红绿灯坏", "路口红绿灯坏了好几天，车辆乱行很危险", "交通"),
    ("出租车拒载", "出租车司机拒载绕路，乱收费", "交通"),
    ("道路积水", "道路坑洼不平，下雨积水，车辆无法通行", "交通"),
]


@pytest.fixture(scope="module")
def model() -> TextClassifier:
    return TextClassifier.train(
        [text for _, text, _ in EXAMPLES],
        [label for *_, label in EXAMPLES],
        titles=[title for title, _, _ in EXAMPLES],
    )


@pytest.mark.parametrize(
    ("text", "label"),
    [("晚上工地施工噪音扰民", "环境"), ("学校乱收补课费", "教育"), ("公交车站太远，出行不方便", "交通")],
)
def test_ranks_the_right_label_first(model: TextClassifier, text: str, label: str) -> None:
    assert model.rank(text, 3)[0][0] == label


def test_probabilities_are_ordered_between_0_and_1_and_sum_to_1_over_all_labels(
    model: TextClassifier,
) -> None:
    ranking = model.rank("工地晚上施工噪音，学生没法休息", 3)
    probabilities = [p for _, p, _ in ranking]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert sum(probabilities) == pytest.approx(1.0)  # three labels, all ranked


def test_explains_with_words_of_the_text_that_weighed_for_the_label(model: TextClassifier) -> None:
    text = "学校食堂乱收补课费"
    label, _, words = model.rank(text, 1)[0]
    assert label == "教育" and words
    assert all(word in text for word in words)


def test_stored_and_loaded_it_ranks_identically(model: TextClassifier) -> None:
    copy = TextClassifier.loads(model.dumps())
    for text in ("道路积水车辆无法通行", "幼儿园学位紧张"):
        assert copy.rank(text, 3) == model.rank(text, 3)


@pytest.mark.parametrize("data", [b"", b"not a model", b"\x80\x04K\x01."])
def test_bytes_that_are_not_a_model_are_refused_clearly(data: bytes) -> None:
    with pytest.raises(ValueError, match="router model"):
        TextClassifier.loads(data)


def test_with_no_history_it_routes_by_the_duty_lists_words_alone() -> None:
    cold = TextClassifier.train(
        [],
        [],
        prior_documents={"占道经营": ["占道经营", "流动摊贩", "马路市场"], "噪音": ["噪音扰民", "夜间施工"]},
    )
    assert cold.rank("门口流动摊贩占道经营", 1)[0][0] == "占道经营"
    assert cold.rank("楼上夜间施工噪音", 1)[0][0] == "噪音"


def test_text_with_nothing_the_model_knows_gets_no_candidates(model: TextClassifier) -> None:
    assert model.rank("", 3) == [] and model.rank("   ", 3) == []
    assert model.rank("ℵℶℷ", 3) == []


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        (["甲"], [], "texts but"),
        ([], [], "nothing to learn from"),
        (["噪音扰民", "夜间噪音"], ["a", "a"], "two labels"),
    ],
)
def test_training_on_what_cannot_make_a_model_is_refused(
    texts: list[str], labels: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TextClassifier.train(texts, labels)


def test_temperature_is_fitted_to_how_often_the_top_score_is_right() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(400, 3))
    # Scores that are always right deserve a low temperature (sharp); a coin toss a high one (flat).
    right = scores.argmax(axis=1)
    noise = rng.integers(0, 3, size=400)
    assert fit_temperature(scores, right) < fit_temperature(scores, noise)


def test_an_ngram_is_found_in_the_column_the_hashing_vectorizer_counted_it_in() -> None:
    from grievances.router_model import Block

    grams = ["噪音", "噪音 扰民", "学校", "公交 车站", "a"]
    block = Block.make("text_words", 3, 1.0)
    block.fit_transform(block.counts([("", "", "", gram) for gram in grams]), min_df=1)
    assert block.kept is not None
    for gram in grams:
        counted = set(block.vectorizer.transform([gram]).indices)  # a pair: its words' columns and its own
        column = block.column_of(gram)
        assert column >= 0 and block.kept[column] in counted
        if " " not in gram:
            assert {block.kept[column]} == counted
    assert block.column_of("从未见过") == -1


def test_with_a_holdout_the_model_fitted_without_the_newest_texts_comes_along() -> None:
    texts = [text for _, text, _ in EXAMPLES] * 2
    labels = [label for *_, label in EXAMPLES] * 2
    trained = TextClassifier.train(texts, labels, holdout=6)
    candidate = trained.candidate
    assert candidate is not None and candidate.examples == len(texts) - 6 and trained.examples == len(texts)
    assert candidate.temperature == trained.temperature and candidate.labels == trained.labels
    assert TextClassifier.loads(trained.dumps()).candidate is None  # only the model in use is stored
    with pytest.raises(ValueError, match="holdout"):
        TextClassifier.train(texts, labels, holdout=len(texts))


def test_a_large_history_is_fitted_by_sgd_and_ranks_as_well(monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.linear_model import SGDClassifier

    from grievances import router_model

    monkeypatch.setattr(router_model, "SGD_FROM", 10)
    texts = [text for _, text, _ in EXAMPLES] * 3
    labels = [label for *_, label in EXAMPLES] * 3
    large = TextClassifier.train(texts, labels, titles=[title for title, *_ in EXAMPLES] * 3)
    assert isinstance(large.classifier, SGDClassifier)
    assert large.rank("学校乱收补课费", 1)[0][0] == "教育"
    assert large.rank("公交车站太远，出行不方便", 1)[0][0] == "交通"
