/* The local backend: the trainer as a child process speaking docs/ml-trainer-protocol.md. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "ml_internal.h"
#include "ml_trainer_env.h"

#define ML_MAX_ARGS 32
#define ML_LINE_CAP (64 * 1024)
#define ML_LOG_LINES 20  /* trainer output lines kept in the job record ("log") */
#define ML_LOG_WIDTH 240 /* bytes of each */

typedef struct run {
    ml_job_t *j;
    pid_t pid;
    int fd;
    char line[ML_LINE_CAP];
    size_t line_len;
    bool overlong;
    json_object *progress; /* latest progress, owned */
    json_object *metrics;  /* metric events and done metrics, owned */
    bool progress_dirty;
    bool done;
    char artifact[512];
    char error[512];
    char last_log[512];
    char log[ML_LOG_LINES][ML_LOG_WIDTH + 1]; /* ring of the latest output lines */
    size_t log_count;                         /* lines seen; the ring holds the last ones */
} run_t;

/* Keep a trainer output line for the record's "log" (the console's job view): cut on a
 * UTF-8 boundary, control characters as spaces, and anything not UTF-8 as '?', so the record
 * stays valid JSON text whatever the trainer prints. */
static void log_push(run_t *r, const char *prefix, const char *line, size_t len)
{
    char *dst = r->log[r->log_count % ML_LOG_LINES];
    size_t n = (size_t)snprintf(dst, ML_LOG_WIDTH + 1, "%s", prefix);
    size_t take = len < ML_LOG_WIDTH - n ? len : ML_LOG_WIDTH - n;
    while (take > 0 && take < len && ((unsigned char)line[take] & 0xC0) == 0x80)
        take--;
    memcpy(dst + n, line, take);
    dst[n + take] = '\0';
    bool utf8 = aos_utf8_valid(dst + n, take);
    for (char *c = dst + n; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
        else if (!utf8 && (unsigned char)*c >= 0x80)
            *c = '?';
    r->log_count++;
    r->progress_dirty = true;
}

static json_object *log_json(const run_t *r)
{
    json_object *a = json_object_new_array();
    size_t n = r->log_count < ML_LOG_LINES ? r->log_count : ML_LOG_LINES;
    for (size_t i = r->log_count - n; a && i < r->log_count; i++)
        json_object_array_add(a, json_object_new_string(r->log[i % ML_LOG_LINES]));
    return a;
}

static aos_result write_config(const json_object *data, const char *dir, const char *data_path,
                               const char *base_model, char *cfg_path, size_t len)
{
    json_object *c = json_object_new_object();
    static const char *const copy[] = {"job_id", "agent",           "adapter_name",
                                       "lora",   "hyperparameters", NULL};
    for (size_t i = 0; copy[i]; i++) {
        json_object *v;
        if (json_object_object_get_ex(data, copy[i], &v))
            aos_json_add(c, copy[i], json_object_get(v));
    }
    const char *bm = ml_jstr(data, "base_model");
    aos_json_add_string(c, "base_model", bm ? bm : base_model);
    aos_json_add_string(c, "training_data", data_path);
    char out[1100];
    snprintf(out, sizeof out, "%s/output", dir);
    aos_json_add_string(c, "output_dir", out);
    char *text = NULL;
    aos_result r = aos_json_to_string(c, &text, NULL);
    json_object_put(c);
    if (r != AOS_OK)
        return r;
    snprintf(cfg_path, len, "%s/job.json", dir);
    FILE *f = fopen(cfg_path, "w");
    bool ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    free(text);
    return ok ? AOS_OK : AOS_ERR_IO;
}

extern char **environ;

static pid_t spawn(const char *cmd, const char *env_extra, const char *dir, const char *cfg_path,
                   int *out_fd)
{
    /* Built before fork (no allocation in the child of a threaded process). */
    char **env = NULL;
    if (ml_trainer_env_build(environ, env_extra, &env) != AOS_OK)
        return -1;
    char *copy = strdup(cmd), *argv[ML_MAX_ARGS + 3], *save = NULL;
    int argc = 0;
    for (char *t = strtok_r(copy, " ", &save); t && argc < ML_MAX_ARGS;
         t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    argv[argc++] = "--config";
    argv[argc++] = (char *)cfg_path;
    argv[argc] = NULL;
    int p[2];
    if (argc < 3 || pipe2(p, O_CLOEXEC) != 0) {
        free(copy);
        free(env);
        return -1;
    }
    char log[1100];
    snprintf(log, sizeof log, "%s/trainer.log", dir);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        signal(SIGPIPE, SIG_DFL);
        int lf = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (chdir(dir) != 0 || dup2(p[1], 1) < 0 || (lf >= 0 && dup2(lf, 2) < 0))
            _exit(126);
        execvpe(argv[0], argv, env); /* the allowlist, not every secret we hold */
        _exit(127);
    }
    free(copy);
    free(env);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    setpgid(pid, pid);
    *out_fd = p[0];
    return pid;
}

static void on_line(run_t *r, const char *line, size_t len)
{
    ml_progress_t p;
    ml_progress_parse(line, len, &p);
    switch (p.kind) {
    case ML_PROGRESS_STARTED:
    case ML_PROGRESS_STEP:
        aos_json_add_int(r->progress, "step", p.step);
        if (p.total_steps > 0)
            aos_json_add_int(r->progress, "total_steps", p.total_steps);
        if (p.kind == ML_PROGRESS_STEP) {
            aos_json_add(r->progress, "epoch", json_object_new_double(p.epoch));
            if (p.has_loss)
                aos_json_add(r->progress, "loss", json_object_new_double(p.loss));
        }
        r->progress_dirty = true;
        break;
    case ML_PROGRESS_METRIC:
        aos_json_add(r->metrics, p.name, json_object_new_double(p.value));
        r->progress_dirty = true;
        break;
    case ML_PROGRESS_DONE:
        r->done = true;
        snprintf(r->artifact, sizeof r->artifact, "%s", p.text);
        if (p.metrics) {
            json_object_object_foreach(p.metrics, k, v)
                aos_json_add(r->metrics, k, json_object_get(v));
        }
        break;
    case ML_PROGRESS_ERROR:
        snprintf(r->error, sizeof r->error, "%s", p.text);
        log_push(r, "error: ", p.text, strlen(p.text));
        break;
    default:
        if (p.text[0])
            snprintf(r->last_log, sizeof r->last_log, "%s", p.text);
        log_push(r, "", line, len);
    }
    ml_progress_clear(&p);
}

/* Read what is there; false at end of output. */
static bool pump(run_t *r, int wait_ms)
{
    struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
    if (poll(&pfd, 1, wait_ms) <= 0)
        return true;
    char buf[8192];
    ssize_t n = read(r->fd, buf, sizeof buf);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n == 0)
        return false;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (!r->overlong)
                on_line(r, r->line, r->line_len);
            r->line_len = 0;
            r->overlong = false;
        } else if (r->line_len < sizeof r->line) {
            r->line[r->line_len++] = buf[i];
        } else {
            r->overlong = true;
        }
    }
    return true;
}

/* SIGTERM the process group, SIGKILL after the grace period; reap. */
static int terminate(run_t *r, int64_t grace_ms)
{
    int st = 0;
    kill(-r->pid, SIGTERM);
    int64_t end = aos_clock_monotonic_ms() + grace_ms;
    while (aos_clock_monotonic_ms() < end) {
        if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
            kill(-r->pid, SIGKILL); /* anything it left behind */
            return st;
        }
        pump(r, 50);
    }
    kill(-r->pid, SIGKILL);
    waitpid(r->pid, &st, 0);
    return st;
}

static ml_outcome stop_for(run_t *r, ml_outcome o, char *reason, size_t rlen, const char *why)
{
    terminate(r, r->j->svc->cfg.cancel_grace_ms);
    snprintf(reason, rlen, "%s", why);
    return o;
}

/* Progress and metrics into the job record (also renews the lease). */
static aos_result write_progress(run_t *r, bool *cancel)
{
    json_object *set = json_object_new_object();
    aos_json_add(set, "progress", json_object_get(r->progress));
    aos_json_add(set, "metrics", json_object_get(r->metrics));
    if (r->log_count)
        aos_json_add(set, "log", log_json(r));
    ml_job_patch_t p = {.set = set};
    aos_result tr = ml_job_touch(r->j, &p, cancel, NULL, NULL, 0);
    json_object_put(set);
    r->progress_dirty = false;
    return tr;
}

static ml_outcome supervise(run_t *r, int64_t timeout_ms, char *reason, size_t rlen)
{
    ml_service_t *svc = r->j->svc;
    int64_t start = aos_clock_monotonic_ms(), next_touch = start + svc->cfg.poll_ms;
    bool open = true;
    int st = 0;
    for (;;) {
        if (open)
            open = pump(r, 100);
        else if (waitpid(r->pid, &st, WNOHANG) == r->pid)
            break;
        else
            ml_sleep(svc, 50);
        int64_t now = aos_clock_monotonic_ms();
        if (atomic_load(&svc->stopping))
            return stop_for(r, ML_OUT_LOST, reason, rlen, "service stopping");
        if (now - start >= timeout_ms) {
            char why[128];
            snprintf(why, sizeof why, "trainer timed out after %lld s",
                     (long long)(timeout_ms / 1000));
            return stop_for(r, ML_OUT_FAILED, reason, rlen, why);
        }
        bool cancel = atomic_load(&r->j->cancel);
        if (now >= next_touch) {
            if (write_progress(r, &cancel) == AOS_ERR_CONFLICT)
                return stop_for(r, ML_OUT_LOST, reason, rlen, "lease lost");
            next_touch = now + svc->cfg.poll_ms;
        }
        if (cancel)
            return stop_for(r, ML_OUT_CANCELLED, reason, rlen, "cancelled");
    }
    if (r->progress_dirty && write_progress(r, NULL) == AOS_ERR_CONFLICT)
        return ML_OUT_LOST;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && r->done)
        return ML_OUT_SUCCEEDED;
    const char *detail = r->error[0] ? r->error : r->last_log;
    if (WIFSIGNALED(st))
        snprintf(reason, rlen, "trainer killed by signal %d%s%s", WTERMSIG(st),
                 detail[0] ? ": " : "", detail);
    else if (WEXITSTATUS(st) == 127)
        snprintf(reason, rlen, "trainer command not found: %s", svc->trainer_cmd);
    else if (WEXITSTATUS(st) == 0)
        snprintf(reason, rlen, "trainer exited without a done line%s%s", detail[0] ? ": " : "",
                 detail);
    else
        snprintf(reason, rlen, "trainer exited with status %d%s%s", WEXITSTATUS(st),
                 detail[0] ? ": " : "", detail);
    return ML_OUT_FAILED;
}

ml_outcome ml_local_run(ml_job_t *j, const json_object *data, const char *data_path,
                        char **out_artifact, json_object **out_metrics, char *reason, size_t rlen)
{
    ml_service_t *svc = j->svc;
    if (!svc->trainer_cmd || !svc->trainer_cmd[0]) {
        snprintf(reason, rlen, "no local trainer configured (AOS_ML_TRAINER_CMD)");
        return ML_OUT_FAILED;
    }
    char dir[1024], cfg_path[1100];
    snprintf(dir, sizeof dir, "%s/%s", svc->workdir, j->id);
    if (write_config(data, dir, data_path, svc->base_model, cfg_path, sizeof cfg_path) != AOS_OK) {
        snprintf(reason, rlen, "cannot write the job config in %s", dir);
        return ML_OUT_FAILED;
    }
    run_t *r = calloc(1, sizeof *r);
    if (!r)
        return ML_OUT_LOST;
    r->j = j;
    r->progress = json_object_new_object();
    r->metrics = json_object_new_object();
    r->pid = spawn(svc->trainer_cmd, svc->trainer_env, dir, cfg_path, &r->fd);
    ml_outcome o;
    if (r->pid < 0) {
        snprintf(reason, rlen, "cannot start the trainer: %s", strerror(errno));
        o = ML_OUT_FAILED;
    } else {
        int64_t t = ml_jint(data, "timeout_ms", 0);
        o = supervise(r, t > 0 ? t : svc->cfg.job_timeout_ms, reason, rlen);
        close(r->fd);
    }
    if (o == ML_OUT_SUCCEEDED) {
        char art[1600];
        if (r->artifact[0] == '/')
            snprintf(art, sizeof art, "%s", r->artifact);
        else
            snprintf(art, sizeof art, "%s/%s", dir, r->artifact);
        *out_artifact = strdup(art);
        *out_metrics = json_object_get(r->metrics);
    }
    json_object_put(r->progress);
    json_object_put(r->metrics);
    free(r);
    return o;
}
