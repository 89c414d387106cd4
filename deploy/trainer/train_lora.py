#!/usr/bin/env python3
"""Reference LoRA trainer for AOS (docs/ml-trainer-protocol.md).

Run on a GPU node with: pip install torch transformers peft datasets accelerate
The local backend invokes it as: train_lora.py --config job.json and reads JSON progress lines
from stdout. The azureml backend's command job runs: train_lora.py --config-env AOS_JOB_CONFIG
--training-data <input path> --output-dir <output path>.
"""
import argparse
import json
import os
import signal
import sys


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def load_examples(path, tokenizer, max_len):
    texts = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            ex = json.loads(line)
            if "messages" in ex:
                text = tokenizer.apply_chat_template(ex["messages"], tokenize=False)
            elif "prompt" in ex and "completion" in ex:
                text = ex["prompt"] + ex["completion"] + (tokenizer.eos_token or "")
            else:
                raise ValueError(f"line {lineno}: needs 'messages' or 'prompt'+'completion'")
            texts.append(text)
    return [tokenizer(t, truncation=True, max_length=max_len) for t in texts]


def main():
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", help="job.json written by the local backend")
    src.add_argument("--config-env", help="environment variable holding the job config "
                     "(the azureml backend's AOS_JOB_CONFIG)")
    ap.add_argument("--training-data", help="overrides training_data (Azure ML input path)")
    ap.add_argument("--output-dir", help="overrides output_dir (Azure ML output path)")
    args = ap.parse_args()
    if args.config:
        cfg = json.load(open(args.config, encoding="utf-8"))
    else:
        cfg = json.loads(os.environ[args.config_env])
    if args.training_data:
        cfg["training_data"] = args.training_data
    if args.output_dir:
        cfg["output_dir"] = args.output_dir

    # Deferred imports: a config error is reported even where the ML stack is missing.
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForLanguageModeling,
                              Trainer, TrainerCallback, TrainingArguments)

    hp = cfg.get("hyperparameters", {})
    lora = cfg["lora"]
    tokenizer = AutoTokenizer.from_pretrained(cfg["base_model"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        cfg["base_model"], torch_dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32)
    model = get_peft_model(model, LoraConfig(
        r=lora.get("r", 16), lora_alpha=lora.get("lora_alpha", 32),
        lora_dropout=lora.get("lora_dropout", 0.05), target_modules=lora.get("target_modules"),
        task_type=lora.get("task_type", "CAUSAL_LM"), bias=lora.get("bias", "none")))

    data = load_examples(cfg["training_data"], tokenizer, hp.get("max_seq_length", 2048))
    out = cfg["output_dir"]

    class Progress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            emit("started", total_steps=state.max_steps)

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            if "loss" in logs:
                emit("progress", step=state.global_step, total_steps=state.max_steps,
                     epoch=state.epoch, loss=logs["loss"])
            for k, v in logs.items():
                if k.startswith("eval_"):
                    emit("metric", name=k, value=v)

    stop = {"requested": False}

    def on_term(signum, frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_term)

    class StopOnTerm(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if stop["requested"]:
                control.should_training_stop = True

    trainer = Trainer(
        model=model,
        args=TrainingArguments(output_dir=out, num_train_epochs=hp.get("epochs", 1),
                               learning_rate=hp.get("learning_rate", 2e-4),
                               per_device_train_batch_size=hp.get("batch_size", 4),
                               logging_steps=1, save_strategy="no", report_to=[]),
        train_dataset=data,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
        callbacks=[Progress(), StopOnTerm()])
    result = trainer.train()
    if stop["requested"]:
        emit("error", message="cancelled")
        return 143
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    emit("done", artifact=os.path.abspath(out), metrics={"train_loss": result.training_loss})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # the protocol wants the reason on stdout
        emit("error", message=f"{type(e).__name__}: {e}")
        sys.exit(1)
