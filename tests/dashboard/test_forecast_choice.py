"""The model-choice caption of the Capacity page, from a row's stored details."""

from __future__ import annotations

import json

from dashboard.forecast_choice import choice_caption


def test_caption_says_model_comparison_and_significance() -> None:
    details = {
        "selection": {
            "main": {
                "explain": {
                    "model": "ensemble_long",
                    "vs_seasonal_naive": 0.7312,
                    "origins": 12,
                    "p_value": 0.0004,
                    "significant": True,
                    "verdict": "better",
                    "reason": "pooled_default",
                    "pooled_series": 8,
                }
            },
            "capacity": {"explain": {"trend": {"significant": False}}},
        }
    }
    text = choice_caption(json.dumps(details))
    assert text.startswith(
        "Model choice: ensemble long: backtest error 0.73× seasonal naive's over 12 origins"
    )
    assert "significantly better" in text and "8 series" in text and "only through the peaks" in text
    assert "None" not in text and "nan" not in text
    same = {
        "selection": {
            "main": {
                "explain": {
                    "model": "combination",
                    "vs_seasonal_naive": 0.98,
                    "origins": 6,
                    "p_value": 0.41,
                    "significant": False,
                    "verdict": "no_difference",
                }
            }
        }
    }
    assert "no better than repeating the last day" in choice_caption(json.dumps(same))
    assert choice_caption("{}") == "" and choice_caption(None) == "" and choice_caption("not json") == ""
