"""Every file the course reads: where it comes from, its size and checksum, its license.

The sizes and sha256 values are the verified ones of the offline copies
(``MANIFEST.tsv`` of the shared data folder); the md5 values of direct
downloads are the officially published ones. A file that comes out of an
archive (MovieLens, SST-2) is checked against its own sha256 after extraction,
so the archive's own checksum is only a first line of defence.

Nothing here touches the disk or the network: it is a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

_HEX_LENGTHS = {"sha256": 64, "md5": 32}


def _check_hex(owner: str, algo: str, value: str | None) -> None:
    if value is None:
        return
    if len(value) != _HEX_LENGTHS[algo] or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(
            f"{owner}: {algo} must be {_HEX_LENGTHS[algo]} lower-case hex digits, got {value!r}."
        )


@dataclass(frozen=True)
class Archive:
    """A distribution archive (``.zip`` or ``.tar.gz``) whose members are registered files.

    The archive is downloaded into the cache; each member the course needs is
    extracted next to it and checked against the member's own sha256.
    """

    name: str  # file name in the cache, e.g. "ml-100k.zip"
    urls: tuple[str, ...]  # official download URLs, tried in order
    md5: str | None = None  # published md5 of the whole archive, None when none is published
    size: int | None = None  # bytes of the whole archive, None when unknown

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError(f"archive {self.name}: give at least one download URL.")
        if not self.name.endswith((".zip", ".tar.gz", ".tgz")):
            raise ValueError(f"archive {self.name}: only .zip and .tar.gz archives are supported.")
        _check_hex(f"archive {self.name}", "md5", self.md5)

    @property
    def known_hash(self) -> str | None:
        """The checksum in pooch's ``"md5:<hex>"`` form, or None when none is published."""
        return f"md5:{self.md5}" if self.md5 else None


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset, as the course reads it from ``<folder>/<dataset>/<name>``.

    Either ``urls`` (downloaded directly) or ``archive`` + ``member`` (extracted
    from a downloaded archive) is given. A file is verified by its size and its
    sha256, or by its md5 where no sha256 is known (the CIFAR-10 archive).
    """

    dataset: str  # registry name of the dataset, also its folder name: "mnist"
    name: str  # file name inside the dataset folder: "train-images-idx3-ubyte.gz"
    size: int  # bytes
    sha256: str | None  # lower-case hex; None only where no sha256 is known
    md5: str | None = None  # lower-case hex; the published value where there is one
    urls: tuple[str, ...] = ()  # direct download URLs, mirrors in the order they are tried
    archive: Archive | None = (
        None  # the archive holding this file, for files not downloaded directly
    )
    member: str | None = None  # the path inside ``archive``: "ml-100k/u.data"

    def __post_init__(self) -> None:
        owner = f"{self.dataset}/{self.name}"
        if bool(self.urls) == (self.archive is not None):
            raise ValueError(
                f"{owner}: give either download URLs or an archive, not both or neither."
            )
        if (self.archive is None) != (self.member is None):
            raise ValueError(f"{owner}: an archive member needs both `archive` and `member`.")
        if self.sha256 is None and self.md5 is None:
            raise ValueError(f"{owner}: a registered file needs a sha256 (or at least an md5).")
        if self.size <= 0:
            raise ValueError(f"{owner}: size must be a positive number of bytes, got {self.size}.")
        _check_hex(owner, "sha256", self.sha256)
        _check_hex(owner, "md5", self.md5)

    @property
    def digest(self) -> tuple[str, str]:
        """``(algorithm, hex)`` used to verify the file: sha256 when known, else md5."""
        return ("sha256", self.sha256) if self.sha256 else ("md5", self.md5)  # type: ignore[return-value]

    @property
    def known_hash(self) -> str:
        """The checksum in pooch's ``"<algorithm>:<hex>"`` form."""
        algo, value = self.digest
        return f"{algo}:{value}"


@dataclass(frozen=True)
class Dataset:
    """A registered dataset: its files, where it is described, its license and how to cite it."""

    name: str  # registry name and folder name: "fashion-mnist"
    title: str  # human name: "Fashion-MNIST"
    homepage: str  # the dataset's page
    license: str  # the usage terms, as commonly stated
    citation: str  # what to cite
    files: tuple[DataFile, ...]

    def __post_init__(self) -> None:
        names = [f.name for f in self.files]
        if len(set(names)) != len(names):
            raise ValueError(f"dataset {self.name}: file names must be unique, got {names}.")
        if any(f.dataset != self.name for f in self.files):
            raise ValueError(f"dataset {self.name}: every file must name this dataset.")

    def file(self, name: str) -> DataFile:
        """The registered file ``name``; ValueError listing the valid names otherwise."""
        for entry in self.files:
            if entry.name == name:
                return entry
        valid = ", ".join(f.name for f in self.files)
        raise ValueError(f"{self.name} has no file {name!r}; its files are: {valid}.")


# (file name, bytes, sha256, md5) of every file, as verified in the offline copies.
_Row = tuple[str, int, str, str]


def _direct(dataset: str, bases: Iterable[str], rows: Iterable[_Row]) -> tuple[DataFile, ...]:
    """Files downloaded one by one from ``<base><name>`` for each mirror base, in order."""
    bases = tuple(bases)
    return tuple(
        DataFile(dataset, name, size, sha256, md5, urls=tuple(base + name for base in bases))
        for name, size, sha256, md5 in rows
    )


def _members(
    dataset: str, archive: Archive, prefix: str, rows: Iterable[_Row]
) -> tuple[DataFile, ...]:
    """Files extracted from ``archive``, stored in it as ``<prefix><name>``."""
    return tuple(
        DataFile(dataset, name, size, sha256, md5, archive=archive, member=prefix + name)
        for name, size, sha256, md5 in rows
    )


_MNIST_ROWS: tuple[_Row, ...] = (
    (
        "train-images-idx3-ubyte.gz",
        9912422,
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        28881,
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "d53e105ee54ea40749a09fcbcd1e9432",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        1648877,
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "9fb629c4189551a2d022fa330f9573f3",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        4542,
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
)
_FASHION_MNIST_ROWS: tuple[_Row, ...] = (
    (
        "train-images-idx3-ubyte.gz",
        26421880,
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        29515,
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "25c81989df183df01b3e8a0aad5dffbe",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        4422102,
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "bef4ecab320f06d8554ea6380940ec79",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        5148,
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ),
)
_TINYSHAKESPEARE_ROWS: tuple[_Row, ...] = (
    (
        "input.txt",
        1115394,
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        "6fb458f1232090904fb40fe944165e91",
    ),
)
_ML_100K_ROWS: tuple[_Row, ...] = (
    (
        "README",
        6750,
        "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52",
        "364aae5a5037ed015864d55c04f1f476",
    ),
    (
        "u.data",
        1979173,
        "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "6e47046882bad158b0efbb84cd5cb987",
    ),
    (
        "u.item",
        236344,
        "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        "c9e7f390115d79079537301d5204f3f7",
    ),
    (
        "u.user",
        22628,
        "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
        "1b53539edc13caad0282c8500608a319",
    ),
    (
        "u.genre",
        202,
        "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        "a7578bdb37758741ae9429d2c736af18",
    ),
    (
        "u.info",
        36,
        "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b",
        "6cae0afd8c0341aff31b631a192e57e6",
    ),
    (
        "u.occupation",
        193,
        "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d",
        "035abaa2165f35cebce4b91e03481e0a",
    ),
    (
        "u1.base",
        1586544,
        "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
        "4325f44281c9f8c119a3694662d63fc2",
    ),
    (
        "u1.test",
        392629,
        "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
        "62d5d837e7c8e36550cc956b09c2ecc8",
    ),
    (
        "u2.base",
        1583948,
        "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
        "79541afecccbd5365bb2c09b123a01c7",
    ),
    (
        "u2.test",
        395225,
        "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
        "1951a71b7e1f4ed254508007fa2f6b70",
    ),
    (
        "u3.base",
        1582546,
        "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
        "55c67a63f516fa9e593d68c3be779970",
    ),
    (
        "u3.test",
        396627,
        "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
        "cb3e4d0a9152041772285232ca002d4f",
    ),
    (
        "u4.base",
        1581878,
        "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
        "66f64a75eeeffd20ff09533bcd31adcf",
    ),
    (
        "u4.test",
        397295,
        "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
        "328acfca94e85d01b1d7e92c7d73df3b",
    ),
    (
        "u5.base",
        1581776,
        "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
        "0becb3392339231c08ba316944c79095",
    ),
    (
        "u5.test",
        397397,
        "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
        "bec898f7091dba3b7bdf793d1998d2d6",
    ),
    (
        "ua.base",
        1792501,
        "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
        "346eb46a756be3b382bdef4f7dcf3a01",
    ),
    (
        "ua.test",
        186672,
        "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
        "52e5d0355092dc1596899855b220508f",
    ),
    (
        "ub.base",
        1792476,
        "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
        "e4ce94f6e01e45f65b91a70bb9e8da2f",
    ),
    (
        "ub.test",
        186697,
        "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
        "5292d1e388d156aa0c19c384cdf35aca",
    ),
)
_SST2_ROWS: tuple[_Row, ...] = (
    (
        "train.tsv",
        3806081,
        "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1",
        "da409a0a939379ed32a470bc0f7fe99a",
    ),
    (
        "dev.tsv",
        94931,
        "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",
        "268856b487b2a31a28c0a93daaff7288",
    ),
    (
        "test.tsv",
        197335,
        "69a938605609b3e6663b4487918fe1565eb293734e6e520d0366d1d412fd2a13",
        "3230e4efec76488b87877a56ae49675a",
    ),
)

# MNIST: the S3 mirror first, as torchvision does (yann.lecun.com is often unreachable).
_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_TINYSHAKESPEARE_MIRRORS = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/",
)

# md5 published by GroupLens (ml-100k.zip.md5); size as stated in the shared data README.
ML_100K_ARCHIVE = Archive(
    "ml-100k.zip",
    ("https://files.grouplens.org/datasets/movielens/ml-100k.zip",),
    md5="0e33842e24a9c977be4e0107933c0723",
    size=4924029,
)
# md5 of the official GLUE zip as pinned by torchtext's SST2 dataset.
SST2_ARCHIVE = Archive(
    "SST-2.zip",
    ("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",),
    md5="9f81648d4199384278b86e315dac217c",
)

CIFAR10_ARCHIVE_NAME = "cifar-10-python.tar.gz"
_CIFAR10_FILES = (
    # No sha256 of the official archive is known: it is verified by the md5 on the dataset page.
    DataFile(
        "cifar-10",
        CIFAR10_ARCHIVE_NAME,
        170498071,
        None,
        "c58f30108f718f92721af3b95e74349a",
        urls=("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    ),
)

_ALL = (
    Dataset(
        "mnist",
        "MNIST",
        "http://yann.lecun.com/exdb/mnist/",
        "Copyright Yann LeCun and Corinna Cortes; commonly described as CC BY-SA 3.0.",
        "LeCun, Bottou, Bengio, Haffner (1998), Gradient-based learning applied to document recognition.",
        _direct("mnist", _MNIST_MIRRORS, _MNIST_ROWS),
    ),
    Dataset(
        "fashion-mnist",
        "Fashion-MNIST",
        "https://github.com/zalandoresearch/fashion-mnist",
        "(c) 2017 Zalando SE, MIT License.",
        "Xiao, Rasul, Vollgraf (2017), Fashion-MNIST: a novel image dataset for benchmarking "
        "machine learning algorithms, arXiv:1708.07747.",
        _direct("fashion-mnist", _FASHION_MNIST_MIRRORS, _FASHION_MNIST_ROWS),
    ),
    Dataset(
        "tinyshakespeare",
        "Tiny Shakespeare",
        "https://github.com/karpathy/char-rnn",
        "The text is Shakespeare's and in the public domain; compiled by Andrej Karpathy.",
        "Karpathy (2015), char-rnn, https://github.com/karpathy/char-rnn.",
        _direct("tinyshakespeare", _TINYSHAKESPEARE_MIRRORS, _TINYSHAKESPEARE_ROWS),
    ),
    Dataset(
        "ml-100k",
        "MovieLens 100K",
        "https://grouplens.org/datasets/movielens/100k/",
        "GroupLens Research usage license (see ml-100k/README): research use only, no endorsement, "
        "acknowledge in publications, no redistribution without permission, no commercial use "
        "without permission.",
        "Harper, Konstan (2015), The MovieLens Datasets: History and Context, ACM TiiS 5(4):19.",
        _members("ml-100k", ML_100K_ARCHIVE, "ml-100k/", _ML_100K_ROWS),
    ),
    Dataset(
        "sst-2",
        "SST-2 (GLUE)",
        "https://gluebenchmark.com/tasks",
        "GLUE task data from the Stanford Sentiment Treebank (https://nlp.stanford.edu/sentiment/), "
        "commonly redistributed for research.",
        "Socher et al. (2013), Recursive Deep Models for Semantic Compositionality Over a Sentiment "
        "Treebank, EMNLP; Wang et al. (2018), GLUE: A Multi-Task Benchmark and Analysis Platform "
        "for Natural Language Understanding.",
        _members("sst-2", SST2_ARCHIVE, "SST-2/", _SST2_ROWS),
    ),
    Dataset(
        "cifar-10",
        "CIFAR-10",
        "https://www.cs.toronto.edu/~kriz/cifar.html",
        "By Krizhevsky, Nair and Hinton; the dataset page declares no license.",
        "Krizhevsky (2009), Learning Multiple Layers of Features from Tiny Images, technical "
        "report, University of Toronto.",
        _CIFAR10_FILES,
    ),
)

DATASETS: Mapping[str, Dataset] = MappingProxyType({d.name: d for d in _ALL})
"""Every registered dataset by name (read-only). Introduced in notebook 06."""


def get_dataset(name: str) -> Dataset:
    """The registered dataset ``name``; ValueError listing the valid names otherwise.

    Introduced in notebook 06.
    """
    if not isinstance(name, str):
        raise TypeError(f"a dataset name is a string such as 'mnist', got {type(name).__name__}.")
    try:
        return DATASETS[name]
    except KeyError:
        valid = ", ".join(DATASETS)
        raise ValueError(
            f"unknown dataset {name!r}; the registered datasets are: {valid}."
        ) from None


def get_file(dataset: str, name: str) -> DataFile:
    """The registered file ``name`` of ``dataset``; ValueError listing the valid ones otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"a file name is a string such as 'u.data', got {type(name).__name__}.")
    return get_dataset(dataset).file(name)
