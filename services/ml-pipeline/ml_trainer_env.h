/* ml_trainer_env.h: the environment the local trainer child gets (issue 9 item 8).
 *
 * The trainer is an outside program (docs/ml-trainer-protocol.md): it gets an allowlist of the
 * service's environment, not every secret in it (bus and storage connection strings, API
 * keys, model keys). Allowed by default: what a Python/PyTorch/Hugging Face trainer needs to
 * run (ML_TRAINER_ENV_DEFAULT); more names with AOS_ML_TRAINER_ENV (comma-separated; a
 * trailing '*' matches a prefix), e.g. "HF_TOKEN,WANDB_*". Pure; any thread.
 */
#ifndef ML_TRAINER_ENV_H
#define ML_TRAINER_ENV_H

#include <stdbool.h>

#include "aos/result.h"

#define ML_TRAINER_ENV_DEFAULT                                                                     \
    "PATH,HOME,USER,LOGNAME,SHELL,TERM,LANG,LANGUAGE,LC_*,TZ,TMPDIR,LD_LIBRARY_PATH,PYTHONPATH,"   \
    "PYTHONHOME,PYTHONUNBUFFERED,PYTHONDONTWRITEBYTECODE,VIRTUAL_ENV,CONDA_PREFIX,CUDA_*,"         \
    "NVIDIA_*,NCCL_*,OMP_NUM_THREADS,MKL_NUM_THREADS,TOKENIZERS_PARALLELISM,HF_HOME,"              \
    "HF_HUB_CACHE,HF_HUB_OFFLINE,HF_DATASETS_OFFLINE,HF_DATASETS_CACHE,TRANSFORMERS_OFFLINE,"      \
    "TRANSFORMERS_CACHE,TORCH_HOME,XDG_CACHE_HOME"

/* True when NAME=value entry's name is in the comma-separated list (entries "NAME" or
 * "PREFIX*"). */
bool ml_trainer_env_allowed(const char *entry, const char *list);

/* A NULL-terminated copy of the entries of env (NAME=value, NULL-terminated) allowed by the
 * default list or extra (may be NULL). The array is malloc'd, the strings are env's (borrowed:
 * build it right before fork, free the array with free()). */
aos_result ml_trainer_env_build(char *const *env, const char *extra, char ***out_env);

#endif
