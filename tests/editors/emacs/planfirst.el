;;; planfirst in Emacs 28+ with eglot 1.9+: put this in your init file  -*- lexical-binding: t -*-
(require 'eglot)
(defvar planfirst-command '("planfirst" "serve")
  "The server command, e.g. '(\"/path/to/venv/bin/python\" \"-I\" \"-m\" \"planfirst\" \"serve\").")
;; eglot runs one server per buffer: planfirst for Python buffers (add the modes you plan in)
(add-to-list 'eglot-server-programs `(python-mode . ,planfirst-command))
(defvar planfirst--server nil "The last planfirst server used.")
(defvar planfirst--plan nil "The plan the commands act on.")

(defun planfirst--command (command arg &optional then)
  "Run planfirst COMMAND with ARG (a plist) without blocking Emacs; THEN gets the result."
  (let ((server (or (eglot-current-server) planfirst--server
                    (user-error "planfirst: no server here; open a Python file and M-x eglot"))))
    (setq planfirst--server server)
    (jsonrpc-async-request
     server :workspace/executeCommand
     `(:command ,command :arguments [,(or arg (make-hash-table))])
     :timeout 3600
     :success-fn (lambda (res) (when then (funcall then res)))
     :error-fn (lambda (err) (message "planfirst: %s" (plist-get err :message))))))

(defun planfirst--open (res)
  "Remember the plan in RES and open its document (a markdown file under .planfirst/)."
  (setq planfirst--plan (plist-get res :planId))
  (let ((uri (plist-get res :uri)))
    (when (and uri (string-prefix-p "file:" uri))
      (find-file (eglot--uri-to-path uri)))))

(defun planfirst--step (res)
  (message "planfirst: step %s %s %s" (plist-get res :step) (plist-get res :status) (or (plist-get res :message) "")))

(defun planfirst-generate (task)
  "Plan TASK; the plan opens when it is ready."
  (interactive "sPlan a change: ")
  (planfirst--command "planfirst.generatePlan" `(:task ,task) #'planfirst--open))
(defun planfirst-revise (feedback)
  (interactive "sWhat should change in the plan: ")
  (planfirst--command "planfirst.revisePlan" `(:planId ,planfirst--plan :feedback ,feedback) #'planfirst--open))
(defun planfirst-approve ()
  (interactive)
  (planfirst--command "planfirst.approvePlan" nil (lambda (r) (message "planfirst: plan %s" (plist-get r :status)))))
;; Emacs buffers stay consistent with the disk: planfirst asks to save the files a step changed
(cl-defmethod eglot-client-capabilities :around (_server)
  (let ((caps (cl-call-next-method)))
    (plist-put caps :experimental '(:planfirst (:saveDocuments t)))))
(cl-defmethod eglot-handle-request (_server (_method (eql planfirst/saveDocuments)) &key uris)
  (let (saved)
    (seq-doseq (uri uris)
      (let ((buf (find-buffer-visiting (eglot--uri-to-path uri))))
        (when buf (with-current-buffer buf (save-buffer)) (push uri saved))))
    `(:saved ,(vconcat saved))))
;; a step's change is shown first as a diff file under .planfirst/plans/ (the question names it);
;; answer "Apply step N" or "Discard", or use planfirst-apply / planfirst-discard
(defun planfirst-execute () (interactive) (planfirst--command "planfirst.executeNextStep" nil #'planfirst--step))
(defun planfirst-retry () (interactive) (planfirst--command "planfirst.retryStep" nil #'planfirst--step))
(defun planfirst-undo () (interactive) (planfirst--command "planfirst.undoStep" nil #'planfirst--step))
(defun planfirst-apply () (interactive) (planfirst--command "planfirst.applyPreview" nil))
(defun planfirst-discard () (interactive) (planfirst--command "planfirst.discardPreview" nil))
