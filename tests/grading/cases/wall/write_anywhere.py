# Write files outside the working folder: /tmp, memory-backed folders, the file
# system's root, the grader's own folder; say where it worked.
def log_softmax(z):
    pid, cwd, argv = _grader()
    wrote = []
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/dev", "/", cwd):
        if folder:
            try:
                with open(_os.path.join(folder, MARK.decode() + "-wall"), "w") as handle:
                    handle.write("pwned")
                wrote.append(folder)
            except OSError:
                pass
    raise ValueError(f"wrote in {wrote}")
