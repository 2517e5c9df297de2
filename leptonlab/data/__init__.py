"""Datasets of the course: a registry of official files, verified fetching, parsers and loaders.

``load_mnist()`` and friends return plain NumPy arrays read from each dataset's
original files. Files are downloaded once into the cache (``leptonlab.cache_dir()``)
and checked against pinned checksums; with ``LEPTONLAB_DATA_DIR`` set they are
read from that folder instead and the network is never used. Importing this
module downloads nothing and creates no folder. Introduced in notebook 06.
"""

from leptonlab.data._errors import DataError as DataError
from leptonlab.data._fetch import fetch as fetch
from leptonlab.data._fetch import file_digest as file_digest
from leptonlab.data._fetch import prefetch as prefetch
from leptonlab.data._fetch import status as status
from leptonlab.data._formats import Movies as Movies
from leptonlab.data._formats import Ratings as Ratings
from leptonlab.data._formats import Users as Users
from leptonlab.data._formats import load_safe_pickle as load_safe_pickle
from leptonlab.data._formats import parse_cifar_batch as parse_cifar_batch
from leptonlab.data._formats import parse_idx as parse_idx
from leptonlab.data._formats import parse_ml_genres as parse_ml_genres
from leptonlab.data._formats import parse_ml_items as parse_ml_items
from leptonlab.data._formats import parse_ml_ratings as parse_ml_ratings
from leptonlab.data._formats import parse_ml_users as parse_ml_users
from leptonlab.data._formats import parse_sst2 as parse_sst2
from leptonlab.data._formats import parse_text as parse_text
from leptonlab.data._formats import read_archive_members as read_archive_members
from leptonlab.data._loaders import CIFAR10_CLASSES as CIFAR10_CLASSES
from leptonlab.data._loaders import CIFAR10_PNG_DIR as CIFAR10_PNG_DIR
from leptonlab.data._loaders import CIFAR10_SOURCES as CIFAR10_SOURCES
from leptonlab.data._loaders import DataSource as DataSource
from leptonlab.data._image_folder import IMAGE_EXTENSIONS as IMAGE_EXTENSIONS
from leptonlab.data._image_folder import ImageFolder as ImageFolder
from leptonlab.data._image_folder import image_folder as image_folder
from leptonlab.data._loaders import FASHION_MNIST_CLASSES as FASHION_MNIST_CLASSES
from leptonlab.data._loaders import MNIST_CLASSES as MNIST_CLASSES
from leptonlab.data._loaders import MOVIELENS_FOLDS as MOVIELENS_FOLDS
from leptonlab.data._loaders import MovieLens100K as MovieLens100K
from leptonlab.data._loaders import load_cifar10 as load_cifar10
from leptonlab.data._loaders import load_fashion_mnist as load_fashion_mnist
from leptonlab.data._loaders import load_mnist as load_mnist
from leptonlab.data._loaders import load_movielens_100k as load_movielens_100k
from leptonlab.data._loaders import load_movielens_fold as load_movielens_fold
from leptonlab.data._loaders import load_sst2 as load_sst2
from leptonlab.data._loaders import load_tinyshakespeare as load_tinyshakespeare
from leptonlab.data._registry import DATASETS as DATASETS
from leptonlab.data._registry import Archive as Archive
from leptonlab.data._registry import DataFile as DataFile
from leptonlab.data._registry import Dataset as Dataset
from leptonlab.data._registry import get_dataset as get_dataset
from leptonlab.data._arrays import Split as Split
from leptonlab.data._arrays import Standardizer as Standardizer
from leptonlab.data._arrays import fit_standardizer as fit_standardizer
from leptonlab.data._arrays import to_float as to_float
from leptonlab.data._arrays import train_val_split as train_val_split
from leptonlab.data._augment import Augment as Augment
from leptonlab.data._augment import random_crop as random_crop
from leptonlab.data._augment import random_flip as random_flip
from leptonlab.data._augment import random_rotation as random_rotation


__all__ = [  # the public names (explicit re-exports and definitions)
    "Archive",
    "Augment",
    "CIFAR10_CLASSES",
    "CIFAR10_PNG_DIR",
    "CIFAR10_SOURCES",
    "DataError",
    "DataFile",
    "Dataset",
    "DATASETS",
    "DataSource",
    "FASHION_MNIST_CLASSES",
    "fetch",
    "file_digest",
    "fit_standardizer",
    "get_dataset",
    "IMAGE_EXTENSIONS",
    "image_folder",
    "ImageFolder",
    "load_cifar10",
    "load_fashion_mnist",
    "load_mnist",
    "load_movielens_100k",
    "load_movielens_fold",
    "load_safe_pickle",
    "load_sst2",
    "load_tinyshakespeare",
    "MNIST_CLASSES",
    "MovieLens100K",
    "MOVIELENS_FOLDS",
    "Movies",
    "parse_cifar_batch",
    "parse_idx",
    "parse_ml_genres",
    "parse_ml_items",
    "parse_ml_ratings",
    "parse_ml_users",
    "parse_sst2",
    "parse_text",
    "prefetch",
    "random_crop",
    "random_flip",
    "random_rotation",
    "Ratings",
    "read_archive_members",
    "Split",
    "Standardizer",
    "status",
    "to_float",
    "train_val_split",
    "Users",
]
