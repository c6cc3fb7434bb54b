;;; Emacs 28 + eglot 1.9 in batch mode, through the setup docs/editors.md shows (planfirst.el), playing the user:  -*- lexical-binding: t -*-
;;; planfirst-generate -> planfirst-approve -> planfirst-execute, whose step creates two files:
;;; planfirst's own preview is discarded (nothing changes), then planfirst-execute again: applied,
;;; validation fails, the retry edits the file the step created, its preview applied, done.
;;; Buffers are never saved (kill-emacs): the disk must hold what was validated.
;;; Environment: SNIPPET, PLANFIRST_CMD (JSON array), PLANFIRST_TASK, RESULT.
(package-initialize)
(require 'json)
(require 'seq)
(setq planfirst-command (json-parse-string (getenv "PLANFIRST_CMD") :array-type 'list))
(load (getenv "SNIPPET") nil t)
(setq eglot-sync-connect t eglot-connect-timeout 30)

(defvar pf-result nil)
(defun pf-put (key value) (push (cons key value) pf-result))
(defvar pf-answers nil "The user's answers to planfirst's questions, in order.")
(defvar pf-questions nil)
(defvar pf-messages nil)
(defvar pf-steps nil)
(defvar pf-diagnostics nil)
;; eglot asks window/showMessageRequest with completing-read: the user picks an answer
(advice-add 'completing-read :around
            (lambda (orig prompt collection &rest args)
              (if (not (string-match-p "\\[eglot\\]" prompt))
                  (apply orig prompt collection args)
                (push prompt pf-questions)
                (let ((want (pop pf-answers)))
                  (or (seq-find (lambda (c) (string-prefix-p want c)) collection) want)))))
;; eglot 1.9 asks "Server wants to edit ... Proceed?" for files no buffer visits: yes
(advice-add 'y-or-n-p :around (lambda (_orig prompt) (push prompt pf-messages) t))
(advice-add 'message :around
            (lambda (orig fmt &rest args)
              (when fmt (push (apply #'format-message fmt args) pf-messages))
              (apply orig fmt args)))
(advice-add 'planfirst--step :after (lambda (res) (push res pf-steps)))
(advice-add 'eglot-handle-notification :before
            (lambda (_server method &rest params)
              (when (eq method 'textDocument/publishDiagnostics)
                (let ((uri (plist-get params :uri)))
                  (seq-doseq (d (plist-get params :diagnostics))
                    (push `((uri . ,uri) (message . ,(plist-get d :message))) pf-diagnostics))))))

(defun pf-idle ()
  "Run the idle timers, as an interactive Emacs does when the user pauses (batch mode never
is idle; eglot sends buffer changes to the server from an idle timer)."
  (dolist (tm (copy-sequence timer-idle-list))
    (timer-event-handler tm)))
(defun pf-wait (pred seconds what)
  (let ((end (+ (float-time) seconds)))
    (while (and (not (funcall pred)) (< (float-time) end))
      (accept-process-output nil 0.05)
      (pf-idle))
    (unless (funcall pred) (error "timed out waiting for %s; messages: %S" what (seq-take pf-messages 8)))))
(defun pf-read (path)
  (when (file-exists-p path)
    (with-temp-buffer (insert-file-contents-literally path) (decode-coding-string (buffer-string) 'utf-8))))
(defun pf-buffer (path)
  (let ((b (get-file-buffer (expand-file-name path))))
    (when b (with-current-buffer b (buffer-substring-no-properties (point-min) (point-max))))))
(defun pf-noted (regexp) (seq-find (lambda (m) (string-match-p regexp m)) pf-messages))

(let ((ok t) (root default-directory))
  (condition-case err
      (progn
        (find-file (expand-file-name "textkit/wordcount.py" root))
        (apply #'eglot (eglot--guess-contact))
        (pf-wait #'eglot-current-server 30 "the planfirst server")
        (pf-put 'editor (format "Emacs %s, eglot %s" emacs-version
                                (let ((lib (locate-library "eglot"))) (if (string-match "eglot-\\([0-9.]+\\)" lib) (match-string 1 lib) "?"))))
        (planfirst-generate (getenv "PLANFIRST_TASK"))
        (pf-wait (lambda () planfirst--plan) 60 "the plan")
        (planfirst-approve)
        (pf-wait (lambda () (pf-noted "^planfirst: plan approved")) 30 "approval")
        ;; 1. discarded: nothing changes
        (setq pf-answers '("Discard"))
        (planfirst-execute)
        (pf-wait (lambda () pf-steps) 60 "the discarded step")
        (pf-put 'after_discard
                `((status . ,(plist-get (car pf-steps) :status))
                  (shout . ,(pf-read (expand-file-name "textkit/shout.py" root)))
                  (test . ,(pf-read (expand-file-name "tests/test_shout.py" root)))
                  (shout_buffer . ,(pf-buffer (expand-file-name "textkit/shout.py" root)))
                  (question . ,(car pf-questions))))
        ;; 2. applied; the retry on the created file applied too
        (setq pf-answers '("Apply step 1" "Apply step 1"))
        (planfirst-execute)
        (pf-wait (lambda () (>= (length pf-steps) 2)) 180 "step 1")
        (pf-put 'step (car pf-steps))
        ;; the first diff document a question named (eglot 1.9 has no window/showDocument)
        (let ((q (or (seq-find (lambda (s) (string-match "\\(\\.planfirst/plans/[^ ]+\\.diff\\)" s)) (reverse pf-questions)) "")))
          (when (string-match "\\(\\.planfirst/plans/[^ ]+\\.diff\\)" q)
            (pf-put 'preview_text (pf-read (expand-file-name (match-string 1 q) root)))))
        (pf-put 'disk `((shout . ,(pf-read (expand-file-name "textkit/shout.py" root)))
                        (test . ,(pf-read (expand-file-name "tests/test_shout.py" root)))))
        (pf-put 'buffers `((shout . ,(pf-buffer (expand-file-name "textkit/shout.py" root)))
                           (test . ,(pf-buffer (expand-file-name "tests/test_shout.py" root)))))
        (pf-put 'plan_text (pf-read (expand-file-name (format ".planfirst/plans/%s/plan.md" planfirst--plan) root))))
    (error (setq ok nil) (pf-put 'error (format "%S" err))))
  (pf-put 'questions (vconcat (reverse pf-questions)))
  (pf-put 'diagnostics (vconcat pf-diagnostics))
  (pf-put 'messages (vconcat (seq-take pf-messages 40)))
  (with-temp-file (getenv "RESULT") (insert (json-encode pf-result)))
  (when (and (not ok) planfirst--server)  ; for debugging: the JSON-RPC traffic
    (with-current-buffer (seq-find (lambda (b) (string-match-p "EGLOT.*events" (buffer-name b))) (buffer-list))
      (write-region (point-min) (point-max) (concat (getenv "RESULT") ".events") nil 0)))
  (kill-emacs (if ok 0 1)))
