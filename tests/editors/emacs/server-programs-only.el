;;; A user who only added planfirst to eglot-server-programs (no README snippet)  -*- lexical-binding: t -*-
;;; eglot 1.9 then declares no `planfirst/saveDocuments` and never saves the buffers a step edits;
;;; the server must write the approved text itself, also for a file the step creates.
;;; The commands below are how the test runs planfirst's commands (a user would pick them with
;;; M-x eglot-code-actions or call `workspace/executeCommand' as the snippet does); nothing here
;;; changes what eglot declares or does with an edit.
(require 'eglot)
(defvar planfirst-command '("planfirst" "serve"))
(add-to-list 'eglot-server-programs `(python-mode . ,planfirst-command))

(defvar planfirst--server nil)
(defvar planfirst--plan nil)
(defun planfirst--command (command arg &optional then)
  (let ((server (or (eglot-current-server) planfirst--server (error "no server"))))
    (setq planfirst--server server)
    (jsonrpc-async-request
     server :workspace/executeCommand
     `(:command ,command :arguments [,(or arg (make-hash-table))])
     :timeout 3600
     :success-fn (lambda (res) (when then (funcall then res)))
     :error-fn (lambda (err) (message "planfirst: %s" (plist-get err :message))))))
(defun planfirst--open (res) (setq planfirst--plan (plist-get res :planId)))
(defun planfirst--step (res)
  (message "planfirst: step %s %s %s" (plist-get res :step) (plist-get res :status) (or (plist-get res :message) "")))
(defun planfirst-generate (task) (planfirst--command "planfirst.generatePlan" `(:task ,task) #'planfirst--open))
(defun planfirst-approve ()
  (planfirst--command "planfirst.approvePlan" nil (lambda (r) (message "planfirst: plan %s" (plist-get r :status)))))
(defun planfirst-execute () (planfirst--command "planfirst.executeNextStep" nil #'planfirst--step))
