"""Recommender systems on MovieLens-100K (notebooks 14-15).

Ratings re-indexed to 0-based rows, the implicit-feedback view, neighbourhood
collaborative filtering (with or without baselines), biased matrix factorisation and SVD++
trained under ``jit``, a least-squares blend fitted on a validation split,
neural recommenders (NCF, two-tower) with negative sampling, a popularity
baseline, rating and ranking metrics, and top-k recommendation with cold start.
"""

from leptonlab.recsys._data import Candidates as Candidates
from leptonlab.recsys._data import IdIndex as IdIndex
from leptonlab.recsys._data import candidate_lists as candidate_lists
from leptonlab.recsys._data import ImplicitSplit as ImplicitSplit
from leptonlab.recsys._data import Interactions as Interactions
from leptonlab.recsys._data import build_index as build_index
from leptonlab.recsys._data import index_ratings as index_ratings
from leptonlab.recsys._data import item_popularity as item_popularity
from leptonlab.recsys._data import leave_one_out as leave_one_out
from leptonlab.recsys._data import rating_matrix as rating_matrix
from leptonlab.recsys._data import sample_negatives as sample_negatives
from leptonlab.recsys._data import validation_split as validation_split
from leptonlab.recsys._blend import blend_predict as blend_predict
from leptonlab.recsys._blend import fit_blend as fit_blend
from leptonlab.recsys._data import seen_matrix as seen_matrix
from leptonlab.recsys._metrics import candidate_ranks as candidate_ranks
from leptonlab.recsys._metrics import hit_rate_at_k as hit_rate_at_k
from leptonlab.recsys._metrics import mae as mae
from leptonlab.recsys._metrics import ndcg_at_k as ndcg_at_k
from leptonlab.recsys._metrics import precision_at_k as precision_at_k
from leptonlab.recsys._metrics import ranking_report as ranking_report
from leptonlab.recsys._metrics import rmse as rmse
from leptonlab.recsys._mf import MFConfig as MFConfig
from leptonlab.recsys._mf import MFHistory as MFHistory
from leptonlab.recsys._mf import MFParams as MFParams
from leptonlab.recsys._mf import evaluate_mf as evaluate_mf
from leptonlab.recsys._mf import fit_biases as fit_biases
from leptonlab.recsys._mf import fit_mf as fit_mf
from leptonlab.recsys._mf import global_mean_baseline as global_mean_baseline
from leptonlab.recsys._mf import init_mf as init_mf
from leptonlab.recsys._mf import mf_loss as mf_loss
from leptonlab.recsys._mf import mf_predict as mf_predict
from leptonlab.recsys._neighbours import NeighbourModel as NeighbourModel
from leptonlab.recsys._neighbours import fit_neighbours as fit_neighbours
from leptonlab.recsys._neighbours import predict_neighbours as predict_neighbours
from leptonlab.recsys._neighbours import similarity_matrix as similarity_matrix
from leptonlab.recsys._neural import NCF as NCF
from leptonlab.recsys._neural import TwoTower as TwoTower
from leptonlab.recsys._neural import negative_sampling_loss as negative_sampling_loss
from leptonlab.recsys._neural import score_pairs as score_pairs
from leptonlab.recsys._neural import user_genre_profiles as user_genre_profiles
from leptonlab.recsys._svdpp import fit_svdpp as fit_svdpp
from leptonlab.recsys._svdpp import implicit_matrix as implicit_matrix
from leptonlab.recsys._recommend import Recommender as Recommender
from leptonlab.recsys._recommend import TopK as TopK
from leptonlab.recsys._recommend import mf_scores as mf_scores


__all__ = [  # the public names (explicit re-exports and definitions)
    "blend_predict",
    "build_index",
    "candidate_lists",
    "candidate_ranks",
    "Candidates",
    "evaluate_mf",
    "fit_biases",
    "fit_blend",
    "fit_mf",
    "fit_neighbours",
    "fit_svdpp",
    "global_mean_baseline",
    "hit_rate_at_k",
    "IdIndex",
    "implicit_matrix",
    "ImplicitSplit",
    "index_ratings",
    "init_mf",
    "Interactions",
    "item_popularity",
    "leave_one_out",
    "mae",
    "mf_loss",
    "mf_predict",
    "mf_scores",
    "MFConfig",
    "MFHistory",
    "MFParams",
    "NCF",
    "ndcg_at_k",
    "negative_sampling_loss",
    "NeighbourModel",
    "precision_at_k",
    "predict_neighbours",
    "ranking_report",
    "rating_matrix",
    "Recommender",
    "rmse",
    "sample_negatives",
    "score_pairs",
    "seen_matrix",
    "similarity_matrix",
    "TopK",
    "TwoTower",
    "user_genre_profiles",
    "validation_split",
]
